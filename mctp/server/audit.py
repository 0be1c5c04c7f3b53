# The invariants of a running stack, checked from the outside: Server.check() calls problems().
# The tests and the fuzzer call it after every step; at the REPL, `server.check()` says whether
# anything is held that should not be. Not a packet path: it allocates.
#
#   - each reassembly slot is FREE, ASSEMBLING for a live owner (never queued), or COMPLETE and
#     queued on exactly one live handle, which is its owner;
#   - no owner holds more slots than Config.queue_limit, and the control slot is free between
#     packets (control requests are answered as they complete);
#   - handles, pending receives and connections point at each other consistently, and the
#     server's count of pending receives with a timeout is theirs;
#   - every live flow (owned tag) belongs to a live request handle;
#   - every IPC client (wire connection) keeps its quotas (Config.client_listeners,
#     client_requests, client_queued), and together they leave this process its reserve
#     (Config.reserved_listeners, reserved_requests).

from ..core.core import CONTROL_OWNER
from ..core.reassembly import ASSEMBLING, COMPLETE, FREE, OWNER_AT, SRC_AT, STATE_AT, TAG_AT, TO_AT
from .._compat import const

# mctp.server.server's KIND_FREE, KIND_LISTENER and KIND_REQUEST ([const-copy]: it imports this
# module, so this one does not import it).
_KIND_FREE = const(0)
_KIND_LISTENER = const(1)
_KIND_REQUEST = const(2)


def problems(server):
    """Every broken invariant of `server` and its core, in words; [] when all is well."""
    found = []
    queued = _check_handles(server, found)
    _check_slots(server, queued, found)
    _check_quotas(server, found)
    core = server.core
    if core.pool.control_slot.meta[STATE_AT] != FREE:
        found.append("the control slot is still held")
    timed = 0
    for p in server.pending:
        if p.handle is not None and (p.handle.pending is not p or p.conn.pending is not p):
            found.append("a pending receive and its handle or connection disagree")
        if p.handle is not None and p.timeout_ms:
            timed += 1
    if server._timed != timed:
        found.append(
            "the server counts %d pending receives with a timeout, %d wait"
            % (server._timed, timed)
        )
    for flow in core.flows.flows:
        if flow.used and not _live(server, flow.owner, _KIND_REQUEST):
            found.append("the flow of tag %d to EID %d has no owner" % (flow.tag, flow.peer))
    return found


def _check_quotas(server, found):
    config = server.core.config
    clients = []
    for h in server.handles:
        if h.kind != _KIND_FREE and h.owner is None:
            found.append("handle %d is live but has no owner" % h.index)
        elif h.kind != _KIND_FREE and h.owner.wire and h.owner not in clients:
            clients.append(h.owner)
    kinds = (
        (_KIND_LISTENER, "listener", config.client_listeners, "listeners"),
        (_KIND_REQUEST, "request", config.client_requests, "requests"),
    )
    for kind, name, own, table in kinds:
        for conn in clients:
            if server.held(kind, conn) > own:
                found.append(
                    "an IPC client holds %d %s handles, over Config.client_%s (%d)"
                    % (server.held(kind, conn), name, table, own)
                )
        shared = getattr(config, table) - getattr(config, "reserved_" + table)
        if server.held(kind, None) > max(shared, 0):
            found.append(
                "IPC clients hold %d %s handles, more than Config.%s less reserved_%s (%d)"
                % (server.held(kind, None), name, table, table, shared)
            )
    for conn in clients:
        if server.queued_for(conn) > config.client_queued:
            found.append(
                "an IPC client has %d messages waiting, over Config.client_queued (%d)"
                % (server.queued_for(conn), config.client_queued)
            )


def _live(server, owner, kind):
    return 0 <= owner < len(server.handles) and server.handles[owner].kind == kind


def _check_handles(server, found):
    queued = {}  # slot index -> the handle whose queue holds it
    for h in server.handles:
        if h.kind == _KIND_FREE:
            if h.count or h.pending is not None:
                found.append("free handle %d holds messages or a receive" % h.index)
            continue
        if not 0 <= h.count <= len(h.queue):
            found.append("handle %d counts %d queued messages" % (h.index, h.count))
            continue
        if h.pending is not None and h.pending.handle is not h:
            found.append("handle %d points at another handle's receive" % h.index)
        for k in range(h.count):
            slot = h.queue[(h.head + k) % len(h.queue)]
            if slot is None or slot.meta[STATE_AT] != COMPLETE or slot.owner != h.index:
                found.append("handle %d queues a slot that is not its message" % h.index)
            elif slot.index in queued:
                found.append("slot %d is queued twice" % slot.index)
            else:
                queued[slot.index] = h.index
    return queued


def _check_slots(server, queued, found):
    pool = server.core.pool
    limit = server.core.config.queue_limit
    for slot in pool.slots:
        state = slot.meta[STATE_AT]
        if state == ASSEMBLING:
            kind = _KIND_LISTENER if slot.to else _KIND_REQUEST
            if slot.owner != CONTROL_OWNER and not _live(server, slot.owner, kind):
                found.append("slot %d assembles for an owner that is gone" % slot.index)
            if slot.index in queued:
                found.append("slot %d is queued while still assembling" % slot.index)
        elif state == COMPLETE:
            if slot.index not in queued:
                found.append("slot %d is complete but queued on no handle" % slot.index)
        elif state != FREE:
            found.append("slot %d is in unknown state %d" % (slot.index, state))
        if state != FREE and pool.owned(slot.owner) > limit:
            found.append("owner %d holds more than its %d messages" % (slot.owner, limit))
        if state != FREE and (slot.src, slot.tag, slot.to, slot.owner) != (
            slot.meta[SRC_AT],
            slot.meta[TAG_AT],
            slot.meta[TO_AT],
            slot.meta[OWNER_AT] | slot.meta[OWNER_AT + 1] << 8,
        ):
            found.append(
                "slot %d's source, tag, TO or owner differ from its meta bytes" % slot.index
            )
