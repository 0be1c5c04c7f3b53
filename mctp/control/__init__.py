# The MCTP control protocol (message type 0, DSP0236 clause 12): messages (commands, codes and
# their encodings, exported here), responder (what every endpoint answers), requester (asking
# other endpoints), bus_owner (setting endpoints up, as Linux mctpd does), pool (a bridge
# setting up the endpoints behind it from its EID pool) and bridging (the codes of the commands
# only a bridge answers, for the requester and mctp.bridge.control; not exported here).

from .messages import *  # noqa: F403
