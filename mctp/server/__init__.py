# The server that owns a stack and serves its clients (server: connections, handles, pending
# receives, dispatch), the in-process client (direct: DirectClient) and the server's
# invariants (audit, for tests and the REPL).

from .direct import DirectClient
from .server import Server
