# The server that owns a stack and serves its clients through the IPC wire codec (server:
# handles, pending receives, dispatch; records: what it keeps of each connection, handle and
# pending receive), the in-process client (direct: DirectClient) and the server's invariants
# (audit, for tests and the REPL).

from .direct import DirectClient
from .server import Server
