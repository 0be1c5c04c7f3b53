# One object sizes every table of a stack; all buffers are allocated from it at construction.


class Config:
    """Stack limits. Override any of them by keyword: Config(reassembly_slots=8)."""

    # Messages being reassembled or waiting for a receive; each holds max_payload bytes.
    reassembly_slots = 4
    # Largest payload (message bytes after the type byte) sent or received; at most 1023.
    max_payload = 1023
    # Messages (assembling or waiting) one handle may hold, so one slow reader cannot take
    # every reassembly slot.
    queue_limit = 2
    reassembly_timeout_ms = 6000
    # Requests sent and awaiting their response (owned tags), over all peers.
    flows = 16
    tag_expiry_ms = 6000
    routes = 8
    # Where recent requests came from (link and physical address), so their responses go back
    # the same way, also to a requester that has no EID yet (EID 0).
    reply_routes = 8
    listeners = 8
    requests = 8
    # One receive waits per connection at a time (its client waits for the answer); this many
    # over all connections.
    pending_receives = 16
    # Streams an IPC service (mctp.ipc.StreamService) serves at once; each costs about 3 KB of
    # buffers (docs/ipc.md). A board serves one UART; a host raises it for more applications.
    ipc_clients = 4
    # Quotas of each IPC client (a wire connection: Server.connect(); mctp.ipc's StreamService
    # makes one per stream), so that no client can take what the others need. An application
    # listens on a type or two and asks a peer or two. A board's tables are smaller (4
    # listeners, 2 of them its services', 4 request handles): firmware's ENDPOINT_LIMITS gives
    # a client 1 listener there, so that two clients still find one each.
    client_listeners = 2
    client_requests = 2
    # Complete messages waiting over all of one client's handles: with the board's 4
    # reassembly slots, a client that does not read holds 2 and the others have the rest. A
    # message over it is dropped and counted (queue_full), as one over queue_limit is.
    client_queued = 2
    # Handles that IPC clients together never take, kept for this process (the in-process
    # owner: the firmware's two services, its console's request, the bus owner's requests).
    # 0 keeps none back.
    reserved_listeners = 2
    reserved_requests = 1

    def __init__(self, **overrides):
        for name, value in overrides.items():
            if not hasattr(Config, name) or name.startswith("_"):
                raise TypeError("unknown config setting: " + name)
            least = 0 if name.startswith("reserved_") else 1
            if not isinstance(value, int) or value < least:
                raise ValueError("%s must be an int of at least %d, got %r" % (name, least, value))
            setattr(self, name, value)
        if self.max_payload > 1023:
            raise ValueError("max_payload must be at most 1023")
        if self.listeners + self.requests > 256:
            raise ValueError("at most 256 handles")
