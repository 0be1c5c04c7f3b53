# MCTP through the Linux kernel's own stack: SocketClient (client), an MctpClient over AF_MCTP
# sockets for applications on a Linux host, on CPython or the MicroPython unix port. The kernel
# does the packetization, reassembly, routing and tags; this package only opens, binds and
# reads its sockets (sockets), and reads or sets the local EID over rtnetlink (netlink).
# docs/linux.md describes the set-up and how the contract maps onto the kernel's sockets.

from .client import SocketClient
