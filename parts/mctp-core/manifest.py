# The core stack: the application API and facade (mctp), the server and the in-process client
# (mctp.server), and the core (mctp.core). Every other part needs it. The IPC codec (mctp.wire)
# is mctp-ipc's, a board's capture (mctp.capture) mctp-capture's, the FCS-16 (mctp.fcs)
# mctp-fcs's and the invariants' check (mctp.server.audit) mctp-audit's: nothing here imports
# them but Server.check(), which says which part it needs.
#
# Every part a board may freeze compiles its modules with opt=3, as MicroPython's own asyncio is
# frozen: no line numbers in the bytecode (about 5.6 KB of an endpoint's image; a traceback from
# frozen code still names each file and function, with line 1) and no assert statements (the
# package has none).
import os

metadata(description="MCTP core stack: API, facade, server, core.", version="0.1.0")

# The modules directly in mctp/ (a manifest runs with its own folder as the working directory).
package(
    "mctp",
    files=sorted(
        name
        for name in os.listdir("../../mctp")
        if name.endswith(".py")
        and name not in ("wire.py", "capture.py", "fcs.py", "_fcs_viper.py")
    ),
    base_path="../..",
    opt=3,
)
package("mctp/server", files=("__init__.py", "direct.py", "server.py"), base_path="../..", opt=3)
package("mctp/core", base_path="../..", opt=3)
