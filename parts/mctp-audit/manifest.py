# The invariants of a running stack (mctp/server/audit.py: Server.check(), for tests, the
# fuzzer and the REPL). A part of its own, so an endpoint's image need not carry diagnostics it
# never runs; the board images freeze it beside the endpoint, for the REPL.
metadata(description="MCTP diagnostics: the stack's invariants, checked.", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")

package("mctp/server", files=("audit.py",), base_path="../..", opt=3)
