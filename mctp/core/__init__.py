# The stack core, independent of any medium: core (Core: packets in and out, timers), reassembly
# (slots for messages being assembled or waiting), flows (the tags of requests in flight),
# routes (EID routes and the way back for responses), link (what a binding implements) and
# packet (the transport header).

# The leaves first: each is then imported from here, one level down, not at the bottom of a
# chain of imports (every nested import costs C stack, and a Pico has 8 KiB of it).
from . import flows, link, packet, reassembly, routes  # noqa: F401
from .core import Core
