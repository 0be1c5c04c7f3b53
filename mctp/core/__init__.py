# The stack core, independent of any medium: core (Core: packets in and out, timers), reassembly
# (slots for messages being assembled or waiting), flows (the tags of requests in flight),
# routes (EID routes and the way back for responses), link (what a binding implements) and
# packet (the transport header).

# The leaves first ([flat-imports]).
from . import flows, link, packet, reassembly, routes  # noqa: F401
from .core import Core
