# The control commands only a bridge answers (DSP0236 8.18 and clause 9): Allocate Endpoint IDs,
# Routing Information Update and Get Routing Table Entries, with their operations, statuses and
# routing table entry fields. The bridge's responder (mctp.bridge.control) and the requester
# that asks a bridge (mctp.control.requester) share them from here, in part mctp-bus-owner, so
# that an endpoint's image (mctp.control.messages, part mctp-control) carries none of them.
# Importing this module adds the commands' names to messages.COMMAND_NAMES, so that a
# ControlError names them as it names the others.

from .._compat import const
from .messages import COMMAND_NAMES

# Commands.
ALLOCATE_ENDPOINT_IDS = const(0x08)
ROUTING_INFORMATION_UPDATE = const(0x09)
GET_ROUTING_TABLE_ENTRIES = const(0x0A)

# Set Endpoint ID response byte 3, bits 1:0: the EID pool status of the endpoint answering.
POOL_NONE = const(0)  # it uses no EID pool (every endpoint, and a bridge asking for none)
POOL_REQUIRED = const(1)  # it needs one: the bus owner sends Allocate Endpoint IDs
POOL_RECEIVED = const(2)  # it has had its pool allocated

# Allocate Endpoint IDs operations (request byte 2, bits 1:0) and status (response byte 2).
ALLOCATE_EIDS = const(0)
FORCE_ALLOCATION = const(1)  # accepted even when a pool is allocated already
GET_ALLOCATION_INFO = const(2)  # the present pool, unchanged
ALLOCATION_ACCEPTED = const(0)
ALLOCATION_REJECTED = const(1)

# Routing table entry types (bits 7:6 of an entry's type byte, in Get Routing Table Entries and
# Routing Information Update alike).
ENTRY_ENDPOINT = const(0)  # one endpoint that is not a bridge
ENTRY_BRIDGE_RANGE = const(1)  # a bridge's EID first, then the EIDs it routes
ENTRY_BRIDGE = const(2)  # one endpoint that is a bridge
ENTRY_RANGE = const(3)  # EIDs a bridge routes, without the bridge's own
# Bit 5: the entry was configured, not learned (the core's Route.entry keeps it as
# mctp.core.routes.ROUTE_STATIC, the same bit).
ENTRY_STATIC = const(0x20)
ENTRY_PORT_MASK = const(0x1F)  # bits 4:0: the port (our link's index)
ENTRY_HANDLE_LAST = const(0xFF)  # a next entry handle that says "no more"

# Request payload lengths (after the type byte), as messages.REQUEST_LENGTHS has the others'.
BRIDGE_REQUEST_LENGTHS = {
    ALLOCATE_ENDPOINT_IDS: 5,
    ROUTING_INFORMATION_UPDATE: 3,  # the least: the entry count, then the entries
    GET_ROUTING_TABLE_ENTRIES: 3,
}

COMMAND_NAMES[ALLOCATE_ENDPOINT_IDS] = "Allocate Endpoint IDs"
COMMAND_NAMES[ROUTING_INFORMATION_UPDATE] = "Routing Information Update"
COMMAND_NAMES[GET_ROUTING_TABLE_ENTRIES] = "Get Routing Table Entries"
