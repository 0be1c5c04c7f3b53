# IPC over byte streams: the wire codec (mctp.wire), StreamClient (an MctpClient speaking it over
# a socket, a pty or a UART) and StreamService (a server's side, any number of streams beside its
# links), and StreamClient's asyncio form (mctp.aio.ipc) with AsyncStack's channels over it
# (mctp.aio.awaited).
metadata(
    description="MCTP IPC over byte streams: wire codec, framing, StreamClient, StreamService.",
    version="0.1.0",
)

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")
require("mctp-fcs", library="mctp-parts")
require("mctp-aio", library="mctp-parts")

package("mctp", files=("wire.py",), base_path="../..", opt=3)
package("mctp/ipc", base_path="../..", opt=3)
package("mctp/aio", files=("ipc.py", "awaited.py"), base_path="../..", opt=3)
