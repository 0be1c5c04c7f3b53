# IPC over byte streams: openprot-mctp-api's wire codec (mctp.wire) carried in checked frames
# (framing) between StreamClient (client), an MctpClient in another process or on another
# machine, and StreamService (service), which serves any number of such streams beside a
# server's links. docs/ipc.md describes the framing and the connection rules.

# The leaves first ([flat-imports]).
from . import framing  # noqa: F401
from .framing import Deframer
from .client import StreamClient
from .service import StreamService
