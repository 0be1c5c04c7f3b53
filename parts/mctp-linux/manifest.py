# The Linux kernel's MCTP stack for applications: SocketClient, an MctpClient over AF_MCTP
# sockets, for the MicroPython unix port and CPython on Linux, and its asyncio form
# (mctp.aio.linux). Never for a board (it imports socket and select).
metadata(
    description="MCTP over the Linux kernel's stack: SocketClient (AF_MCTP), rtnetlink EIDs.",
    version="0.1.0",
)

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")
require("mctp-aio", library="mctp-parts")

package("mctp/linux", base_path="../..")
package("mctp/aio", files=("linux.py",), base_path="../..")
