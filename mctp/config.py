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
    pending_receives = 16
    # Streams an IPC service (mctp.ipc.StreamService) serves at once; each costs about 3 KB of
    # buffers (docs/ipc.md). A board serves one UART; a host raises it for more applications.
    ipc_clients = 4

    def __init__(self, **overrides):
        for name, value in overrides.items():
            if not hasattr(Config, name) or name.startswith("_"):
                raise TypeError("unknown config setting: " + name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(name + " must be a positive int")
            setattr(self, name, value)
        if self.max_payload > 1023:
            raise ValueError("max_payload must be at most 1023")
        if self.listeners + self.requests > 256:
            raise ValueError("at most 256 handles")
