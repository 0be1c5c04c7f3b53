# The MCTP control protocol (message type 0, DSP0236 clause 12): messages (commands, codes and
# their encodings, exported here), responder (what every endpoint answers, and a bridge's
# commands), requester (asking other endpoints), bus_owner (setting endpoints up, as Linux mctpd
# does) and pool (a bridge setting up the endpoints behind it from its EID pool).

from .messages import *  # noqa: F403
