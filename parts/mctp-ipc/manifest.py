# IPC over byte streams: StreamClient (an MctpClient speaking the wire codec over a socket, a
# pty or a UART) and StreamService (a server's side, any number of streams beside its links),
# and StreamClient's asyncio form (mctp.aio.ipc).
metadata(
    description="MCTP IPC over byte streams: framing, StreamClient, StreamService.",
    version="0.1.0",
)

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")
require("mctp-aio", library="mctp-parts")

package("mctp/ipc", base_path="../..")
package("mctp/aio", files=("ipc.py",), base_path="../..")
