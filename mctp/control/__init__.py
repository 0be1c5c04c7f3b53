# The MCTP control protocol (message type 0, DSP0236 clause 12): messages (commands, codes and
# their encodings, exported here), responder (what every endpoint answers), requester (asking
# other endpoints) and bus_owner (setting endpoints up, as Linux mctpd does).

from .messages import *  # noqa: F403
