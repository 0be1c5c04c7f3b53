# The asyncio layer: awaitable forms of the Stack facade's channels (AsyncStack), and the task
# that runs a stack and sleeps until there is work (StackTask), over the same server, core and
# links as the blocking API, on MicroPython's asyncio and CPython's alike.

from .flag import Flag, ThreadSafeFlag  # (the leaves first: [flat-imports])
from .task import StackTask
from .watch import readable, watch, ready_ms, writable
from .stack import AsyncListener, AsyncReqChannel, AsyncRespChannel, AsyncStack

__all__ = [
    "AsyncListener",
    "AsyncReqChannel",
    "AsyncRespChannel",
    "AsyncStack",
    "Flag",
    "StackTask",
    "ThreadSafeFlag",
    "readable",
    "ready_ms",
    "watch",
    "writable",
]
