# MCTP (DMTF DSP0236) for MicroPython and CPython.
#
# The application API mirrors OpenPRoT's openprot-mctp-api: a Stack facade over any MctpClient,
# handing out request channels, listeners and response channels. Codecs and lower layers live in
# their own modules (mctp.wire, mctp.constants, ...) and are imported only when used.

from .api import Handle, MctpClient, MctpListener, MctpReqChannel, MctpRespChannel, RecvMetadata
from .errors import MctpError, ResponseCode
from .stack import Stack, StackListener, StackReqChannel, StackRespChannel

__version__ = "0.1.0"
