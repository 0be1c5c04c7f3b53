# The core stack: the application API and facade (mctp), the server and the in-process client
# (mctp.server), and the core (mctp.core). Every other part needs it. The IPC codec (mctp.wire)
# is mctp-ipc's and a board's capture (mctp.capture) mctp-capture's: nothing here imports them.
import os

metadata(description="MCTP core stack: API, facade, server, core.", version="0.1.0")

# The modules directly in mctp/ (a manifest runs with its own folder as the working directory).
package(
    "mctp",
    files=sorted(
        name
        for name in os.listdir("../../mctp")
        if name.endswith(".py") and name not in ("wire.py", "capture.py")
    ),
    base_path="../..",
)
package("mctp/server", base_path="../..")
package("mctp/core", base_path="../..")
