# The serial binding (DSP0253): link (SerialLink over machine.UART or any byte stream with its
# methods), framing (the frame codec and its FCS-16) and deframer (bytes into the receive ring,
# with every malformed frame counted); framing and deframer have viper versions for MicroPython.

# The leaves first ([flat-imports]).
from . import deframer, framing  # noqa: F401
from .deframer import DROP_NAMES
from .framing import MAX_MTU, MAX_RX_MTU
from .link import CHUNK, DEFAULT_RING, SerialLink
