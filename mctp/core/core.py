# The stack core (DSP0236): packetization, reassembly, message tags and routing. No I/O of its
# own: links (bindings) hand it packets and send the packets it builds.
#
# Receive: a packet's way, in the order the methods below run (the packet itself waits in
# self._rx_buf, _rx_off, _rx_len; its header in _rx_dest, _rx_src, _rx_flags):
#   link.poll(core)                 a binding hands over each packet from its ring
#   receive_middle(buf, ...)        the I2C ring's first call for a packet without SOM: the
#                                   fast path below; a message it completes, hand_on() hands
#                                   on (as receive() would, through _receive_guarded)
#   receive(link, buf, ...)         stages the packet; returns RX_DROPPED, RX_TAKEN or RX_FULL
#     receive_middle                fast path (fastpath.append_middle): a packet that continues a
#                                   message, or a first packet the rules below admit at once
#                                   (a completed message then handed on as below); the rest,
#                                   drops included, take the full path:
#     _receive_guarded              the try; hands on the message the packet completed
#       _receive                    header checks: length, version, source, destination
#         forwarder.forward         at a bridge, a packet for another EID: out over the link
#                                   its route names, as it came (mctp.bridge.forward)
#         _start                    first packet (SOM): som_restart, then
#           _owner                  who takes it: control, sink.accept_request(type), or a flow
#           _admit                  a slot: the control slot, the pool, or _evict
#           _fill                   the slot's fields and the first payload (_copy_in)
#         _continue                 other packets: the slot (_find_slot) and the sequence, then
#           _append                 the payload (a last packet, or one the fast path left)
#       _complete(slot)             at EOM: reply route or flow closed, then sink.deliver(slot)
#                                   (link.Sink), or _discard when refused
#       control.handle(slot)        or, for a control request, the answer (link.ControlHandler)
#   The sink copies the message out later and calls core.release(slot).
# Send: core.send(dest, tag_flags, type_byte, buf, off, length) -> route -> fragments at the
#   link's MTU, written straight into the link's transmit buffer.
#
# Nothing here allocates per packet ([no-alloc]). Per-packet context lives in attributes rather
# than in arguments and locals ([frame-limit]).
# (Over ~450 lines: the receive and send paths share that staged state and the counters, and
# read best as one file.)

from .._compat import const, ticks_diff, ticks_ms
from ..bufcopy import copy_into
from ..config import Config
from ..constants import (
    EID_BROADCAST,
    EID_NULL,
    EID_RESERVED_MAX,
    EID_RESERVED_MIN,
    MSG_TYPE_CONTROL,
    MSG_TYPE_MAX,
    TAG_MAX,
)
from ..counters import Counters
from .fastpath import (
    MIDDLE,
    append_middle,
    completed,
    fill_packet,
    hand_on,
    owned,
    release,
    send_packets,
)
from .flows import FlowTable
from .link import RX_DROPPED, RX_FULL, RX_TAKEN
from .packet import (
    FLAG_EOM,
    FLAG_SOM,
    FLAG_TO,
    TRANSPORT_HEADER_SIZE,
    HEADER_VERSION,
    SEQ_MASK,
    SEQ_SHIFT,
    TAG_MASK,
    VERSION_MASK,
)
from .reassembly import (
    ASSEMBLING,
    EID_AT,
    FREE,
    LENGTH_AT,
    NEXT_SEQ_AT,
    PACKET_LEN_AT,
    SLOT_META,
    SLOT_SHIFT,
    STATE_AT,
    ReassemblyPool,
)
from .routes import ReplyRoutes, RouteTable
from .timers import entry_due, sooner

# packet.VERSION_AT, DEST_EID_AT, SRC_EID_AT and FLAGS_AT ([const-copy]).
_VERSION_AT = const(0)
_DEST_EID_AT = const(1)
_SRC_EID_AT = const(2)
_FLAGS_AT = const(3)
_len = len  # [builtin-global]: poll() calls it per link

# Why a received packet was dropped; each has a counter of the same name.
DROPS = (
    "short",  # no payload after the header
    "bad_version",  # header version is not 1
    "not_for_us",  # destination is neither our EID nor 0 (nor broadcast for control)
    "bad_src",  # reserved (1..7) or broadcast source EID
    "no_listener",  # a request of a type nobody listens for
    "unsolicited",  # a response matching no request we sent (or not from its EID)
    "queue_full",  # the owner already holds Config.queue_limit complete messages
    "no_slot",  # every reassembly slot holds a complete message
    "no_som",  # a middle or last packet of no message being assembled
    "bad_seq",  # packet sequence gap: the message is dropped
    "bad_length",  # a middle packet of another size than the first
    "too_large",  # the message outgrows Config.max_payload
    "reassembly_timeout",  # incomplete after Config.reassembly_timeout_ms
    "evicted",  # an unfinished message made room for a new one (the oldest goes)
    "aborted",  # unfinished when its link lost frames: what follows could be spliced
    "internal_error",  # a fault in the stack itself while handling the packet
)
# What happened otherwise.
EVENTS = (
    "rx_packets",
    "rx_messages",
    "som_restart",  # a new first packet restarted a message being assembled
    "tx_packets",
    "tx_messages",
    "tx_failed",  # the link refused a packet; the message was abandoned
    "no_route",  # a send to an EID no route covers
    "tag_expired",  # a request's response did not come within Config.tag_expiry_ms
    "reply_expired",  # a request not answered within Config.tag_expiry_ms: its route goes
    "reply_evicted",  # a waiting request's route made room for a newer request's
    "link_errors",  # a fault inside a link's poll (counted, the other links go on)
)

# The owner number of control requests, which go to the control responder (server handles
# are 0..255).
CONTROL_OWNER = const(0x100)

# What send() returns.
SEND_OK = 0
SEND_NO_ROUTE = 1  # no route covers the destination EID
SEND_LINK_FAILED = 2  # the link refused a packet; the rest of the message was not sent


class Core:
    """One endpoint's MCTP stack (DSP0236) without I/O: its EID, links and routes, the
    reassembly pool, the owned tags (flows) and the drop counters. Links hand it packets
    (receive) and it hands complete messages to `sink` (a link.Sink: the server) or, for
    control requests, to `control` (a link.ControlHandler); send() fragments a message onto
    the link its route names. `config` (mctp.config.Config) sizes every table once, here;
    `clock` gives ticks in ms (injected by tests)."""

    def __init__(self, config=None, eid=EID_NULL, clock=ticks_ms):
        if config is None:
            config = Config()
        self.config = config
        self.clock = clock
        self.pool = ReassemblyPool(config.reassembly_slots, config.max_payload)
        self._meta = self.pool.meta  # for the fast path (mctp.core.fastpath)
        self.eid = EID_NULL
        self.set_eid(eid)
        self.links = []
        self.routes = RouteTable(config.routes)
        self.reply_routes = ReplyRoutes(config.reply_routes, config.tag_expiry_ms)
        self._bufs = self.pool.bufs
        self.flows = FlowTable(config.flows, config.tag_expiry_ms)
        self.counters = Counters(DROPS + EVENTS)
        self.sink = None  # the layer above (a link.Sink)
        self.control = None  # the control responder, when one is attached (a link.ControlHandler)
        # The packet being received.
        self._rx_link = None
        self._rx_buf = None
        self._rx_off = 0
        self._rx_len = 0
        self._rx_phys = None
        self._rx_dest = 0
        self._rx_src = 0
        self._rx_flags = 0
        self._rx_result = RX_DROPPED  # what receive() returns
        self._rx_done = None  # the slot the packet completed, if it did
        # The message being sent.
        self._tx_link = None
        self._tx_phys = None
        self._tx_dest = 0
        self._tx_flags = 0
        self._tx_type = 0
        self._tx_buf = None
        self._tx_off = 0
        self._tx_left = 0
        self._tx_seq = 0
        self.tx_failed_link = None  # the link that refused the last message that failed
        self._expired_at = -1  # the tick poll() last ran expire() at

    def set_eid(self, eid):
        """Take `eid` as our EID (self.eid, which only this changes: the fast path reads its
        copy in the pool's bytes)."""
        if eid != EID_NULL and not (EID_RESERVED_MAX < eid < EID_BROADCAST):
            raise ValueError("EID must be 0 or 8..254")
        self.eid = eid
        self._meta[self.pool.meta_end + EID_AT] = eid

    def add_link(self, link):
        self.links.append(link)
        return link

    def add_route(self, first, last, link, phys=None):
        self.routes.add(first, last, link, phys)

    # Time.

    def poll(self):
        """Take in what every link received, then expire stale reassemblies and tags (once
        a clock tick)."""
        i = 0
        while i < _len(self.links):
            # A fault in one link (a host socket error, a bug) must not stop the others or
            # the loop above: it is counted and the next poll tries again. The try is here,
            # not apart, to keep the receive path a frame shallower ([c-stack]).
            try:
                self.links[i].poll(self)
            except Exception:
                self.counters.link_errors += 1
            i += 1
        i = self.clock()
        if i != self._expired_at:
            # Once a tick: every timer is 1 ms or more (Config) and starts at the tick it is
            # set, so a second expire() in the same tick finds nothing due (an idle one costs
            # a Cortex-M0 26,000 instructions).
            self._expired_at = i
            self.expire(i)

    def expire(self, now):
        meta = self._meta
        end = self.pool.meta_end  # (the control slot never waits for packets)
        at = 0
        while at < end:
            if meta[at + STATE_AT] == ASSEMBLING:
                self._expire_slot(self.pool.slots[at >> SLOT_SHIFT], now)
            at += SLOT_META
        self.counters.tag_expired += self.flows.expire(now)
        self.counters.reply_expired += self.reply_routes.expire(now)

    def until_timer(self, now):
        """Milliseconds until poll() next has a timer to run (0: one is due), or -1 when none
        runs: for a task that sleeps until there is work (mctp.aio)."""
        wait = sooner(self.flows.until_expiry(now), self.reply_routes.until_expiry(now))
        at = self.pool.meta_end  # (the slots' state bytes, as expire() reads them)
        while at:
            at -= SLOT_META
            if self._meta[at + STATE_AT] == ASSEMBLING:
                wait = sooner(wait, self._slot_due(self.pool.slots[at >> SLOT_SHIFT], now))
        return wait

    def _slot_due(self, slot, now):
        return entry_due(slot, self.config.reassembly_timeout_ms, now)

    def _expire_slot(self, slot, now):
        if ticks_diff(now, slot.started) >= self.config.reassembly_timeout_ms:
            self.pool.release(slot)
            self.counters.reassembly_timeout += 1

    # Receive.

    def receive(self, link, buf, off, length, phys):
        """Handle one packet (buf[off:off + length]) that `link` received from `phys`.

        Never raises: a packet that cannot be taken is dropped and counted. Returns RX_DROPPED,
        RX_TAKEN (the packet went into a message: a binding learns its sender's address only
        then) or RX_FULL (taken, and the message it completed filled its owner's queue: a
        link polls no further this time, so the application reads before more come in).
        """
        self._rx_link = link  # (the fast path's, for a first packet)
        self._rx_phys = phys
        if self.receive_middle(buf, off, length) == MIDDLE:
            self._rx_link = None
            return RX_TAKEN  # a packet that leaves its message unfinished, taken by the fast path
        if self._rx_done is not None:
            # A message's last packet or a control request, taken (and counted) by the fast
            # path: _rx_done is the slot it completed.
            self._rx_link = None  # (a later receive_middle of a first packet outside receive())
            return self.hand_on()
        self.counters.rx_packets += 1
        self._rx_result = RX_DROPPED
        self._rx_buf = buf
        self._rx_off = off
        self._rx_len = length
        self._receive_guarded()
        self._rx_link = None
        self._rx_buf = None
        self._rx_done = None
        return self._rx_result

    # hand_on(): hand on the message whose last packet receive_middle just took (it returned
    # LAST: _rx_done is the slot), as receive() would have; RX_TAKEN, or RX_FULL when it
    # filled its owner's queue. receive()'s for what the fast path completed, and a link's
    # that offers receive_middle last packets itself (see mctp.i2c.ring); one viper call on
    # boards (mctp.core.fastpath).
    hand_on = hand_on

    # The fast paths (mctp.core.fastpath), as methods. receive_middle(buf, off, length) takes
    # a packet that continues a message, or a single-packet control request, as receive()
    # would, and counts it: MIDDLE, or LAST for a last packet or a control request (_rx_done
    # is then the slot it completed, and receive() hands the message on), when it did; 0 when
    # the packet needs receive()'s full path. A link may call it first with middle
    # packets only (see mctp.i2c.ring).
    receive_middle = append_middle
    _fill_packet = fill_packet  # (flags, room): the next packet out, into the link's buffer
    # (core): the message out, each packet to the link's transmit (a capture's: its own)
    _send_packets = staticmethod(send_packets)

    def _receive_guarded(self):
        # Apart from receive() ([try-apart]). A completed message is handed on from here, not
        # from deep in _receive: an answer's path down starts four frames higher ([c-stack]).
        try:
            self._receive()
            done = self._rx_done
            if done is not None:
                if self._complete(done):
                    self.control.handle(done)  # (as in hand_on)
        except Exception:
            self._fault()

    def _fault(self):
        # A fault in the stack while it handled a packet, counted. One while a control
        # request was answered (the link raising, no C stack left) loses the answer, but the
        # slot goes back, or every later control request would find it taken and the
        # endpoint would answer none again.
        self.counters.internal_error += 1
        slot = self._rx_done
        if slot is not None and slot.owner == CONTROL_OWNER and slot.meta[STATE_AT] != FREE:
            self.release(slot)

    def _receive(self):
        buf = self._rx_buf
        off = self._rx_off
        if self._rx_len <= TRANSPORT_HEADER_SIZE:
            self.counters.short += 1
            return
        self._rx_dest = buf[off + _DEST_EID_AT]
        self._rx_src = buf[off + _SRC_EID_AT]
        self._rx_flags = buf[off + _FLAGS_AT]
        if buf[off + _VERSION_AT] & VERSION_MASK != HEADER_VERSION:
            self.counters.bad_version += 1
        elif self._rx_src == EID_BROADCAST or EID_RESERVED_MIN <= self._rx_src <= EID_RESERVED_MAX:
            self.counters.bad_src += 1  # before the destination: a bridge forwards no such packet
        elif not (
            self._rx_dest == self.eid
            or self._rx_dest == EID_NULL
            or self._rx_dest == EID_BROADCAST
        ):
            if hasattr(self, "forwarder"):
                # A bridge: mctp.bridge.Forwarder set it. Not on every core: an attribute
                # more, even on the class, slows an endpoint's other lookups (its dicts).
                self.forwarder.forward(self)
            else:
                self.counters.not_for_us += 1
        elif self._rx_flags & FLAG_SOM:
            self._start()
        else:
            self._continue()

    def _rx_type(self):
        return self._rx_buf[self._rx_off + TRANSPORT_HEADER_SIZE] & MSG_TYPE_MAX

    def _owner(self):
        # Who takes the message starting here, or -1 (counted) when nobody does.
        if self._rx_flags & FLAG_TO:
            if self.control is not None and self._rx_type() == MSG_TYPE_CONTROL:
                return CONTROL_OWNER
            owner = self.sink.accept_request(self._rx_type())
            if owner < 0:
                self.counters.no_listener += 1
            return owner
        flow = self.flows.match(self._rx_src, self._rx_flags & TAG_MASK)
        if flow is None:
            self.counters.unsolicited += 1
            return -1
        return flow.owner

    def _find_slot(self):
        return self.pool.find(self._rx_src, self._rx_flags)

    def _start(self):
        if self._rx_dest == EID_BROADCAST and self._rx_type() != MSG_TYPE_CONTROL:
            self.counters.not_for_us += 1  # only control messages may be broadcast
            return
        old = self._find_slot()
        if old is not None:
            # A new first packet ends the message being assembled with the same source, tag
            # and TO (as in libmctp and mctp-rs); the new one is admitted like any other.
            self.pool.release(old)
            self.counters.som_restart += 1
        owner = self._owner()
        if owner >= 0:
            slot = self._admit(owner)
            if slot is not None:
                self._fill(slot, owner)

    def _admit(self, owner):
        # A slot for a new message of `owner`, or None (counted). A single-packet control
        # request takes the control slot. Otherwise an owner holding its quota, or a full
        # pool, gives up its oldest unfinished message; only complete messages, which wait
        # for their reader, refuse a new one.
        pool = self.pool
        if owner == CONTROL_OWNER and self._fits_control_slot():
            return pool.control_slot
        if owned(self._meta, owner) >= self.config.queue_limit:
            return self._evict(owner, "queue_full")
        slot = pool.alloc()
        if slot is None:
            return self._evict(-1, "no_slot")
        return slot

    def _fits_control_slot(self):
        return (
            self._rx_flags & FLAG_EOM
            and self.pool.control_slot.meta[STATE_AT] == FREE
            and self._rx_len - TRANSPORT_HEADER_SIZE - 1 <= len(self.pool.control_slot.buf)
        )

    def _evict(self, owner, refusal):
        slot = self.pool.oldest_assembling(owner)
        if slot is None:
            self.counters.bump(refusal)
            return None
        self.pool.release(slot)
        self.counters.evicted += 1
        return slot

    def _fill(self, slot, owner):
        count = self._rx_len - TRANSPORT_HEADER_SIZE - 1  # payload after the type byte
        if count > len(slot.buf):
            self.pool.release(slot)
            self.counters.too_large += 1
            return
        flags = self._rx_flags
        slot.owner = owner
        self.pool.start(slot, self._rx_src, flags, count)
        slot.msg_type = self._rx_type()
        slot.ic = self._rx_buf[self._rx_off + TRANSPORT_HEADER_SIZE] > MSG_TYPE_MAX
        slot.link = self._rx_link
        slot.phys = self._rx_phys
        slot.started = self.clock()
        self._copy_in(slot, 0, TRANSPORT_HEADER_SIZE + 1, count)
        self._rx_result = RX_TAKEN
        if flags & FLAG_EOM:
            completed(self, slot)

    def _copy_in(self, slot, at, skip, count):
        # Payload bytes of the packet (after `skip` bytes) into the slot at `at`.
        copy_into(slot.buf, at, self._rx_buf, self._rx_off + skip, count)

    def _continue(self):
        slot = self._find_slot()
        if slot is None:
            self.counters.no_som += 1
        elif (self._rx_flags >> SEQ_SHIFT) & SEQ_MASK != slot.meta[NEXT_SEQ_AT]:
            self.pool.release(slot)
            self.counters.bad_seq += 1
        else:
            self._append(slot, self._rx_flags)

    def _append(self, slot, flags):
        # A packet the fast path passed by: the last, or one it drops.
        count = self._rx_len - TRANSPORT_HEADER_SIZE
        packet_len = slot.packet_len()
        if count > packet_len or (count != packet_len and not flags & FLAG_EOM):
            # Every packet but the last has the size of the first; the last is no larger.
            self.pool.release(slot)
            self.counters.bad_length += 1
            return
        if slot.assembled() + count > len(slot.buf):
            self.pool.release(slot)
            self.counters.too_large += 1
            return
        self._copy_in(slot, slot.assembled(), TRANSPORT_HEADER_SIZE, count)
        slot.advance(count)
        self._rx_result = RX_TAKEN
        if flags & FLAG_EOM:
            completed(self, slot)

    def _complete(self, slot):
        # True for a control request, which the caller has answered; else delivered here (the
        # reply route and the delivery inline: a call less each, [c-stack]).
        owner = slot.owner  # the sink may take the message at once and free the slot
        if owner == CONTROL_OWNER:
            return True
        if slot.to:
            # Where the request came from, for its answer; the slot names the entry.
            if self.reply_routes.remember(slot, self.clock()):
                self.counters.reply_evicted += 1
        else:
            flow = self.flows.match(slot.src, slot.tag)
            if flow is not None and not flow.persistent:
                self.flows.close(flow)
        if not self.sink.deliver(slot):
            # The owner went away or its queue is full: drop the message, not the stack.
            self._discard(slot)
            self.counters.queue_full += 1
        elif owned(self._meta, owner) >= self.config.queue_limit:
            self._rx_result = RX_FULL
        return False

    def _discard(self, slot):
        # A complete message nobody will read: its request (if it is one) is not answered.
        if slot.reply is not None:
            self.reply_routes.forget(slot.reply, slot.reply_serial)
        self.pool.release(slot)

    # release(slot): the sink has taken the message in `slot`; the slot is free again
    # (mctp.core.fastpath).
    release = release

    def release_all(self):
        """Forget every owner: all flows end, all messages go. For a new layer above (a
        restarted server), whose owner numbers mean something else."""
        self.reply_routes.clear()
        for flow in self.flows.flows:
            self.flows.close(flow)
        for slot in self.pool.slots:
            self.pool.release(slot)
        self.pool.release(self.pool.control_slot)

    def release_owner(self, owner):
        """Forget `owner`: its flows end and the messages it holds are discarded."""
        self.flows.close_owner(owner)
        for slot in self.pool.slots:
            if slot.owner == owner and slot.meta[STATE_AT] != FREE:
                self._discard(slot)

    def abort_link(self, link):
        """`link` lost frames (a full ring, a bad PEC): its unfinished messages may miss a
        multiple of four packets, which the 2-bit sequence number cannot show, so they go."""
        for slot in self.pool.slots:
            if slot.link is link and slot.meta[STATE_AT] == ASSEMBLING:
                self.pool.release(slot)
                self.counters.aborted += 1

    # Send.

    def open_flow(self, peer, owner, persistent=False):
        """Own a tag for a request to `peer`; the Flow (its `tag`), or None when none is free."""
        return self.flows.open(peer, owner, persistent, self.clock())

    def close_flow(self, peer, tag):
        """End the flow of `tag` to `peer` (its request could not be sent)."""
        self.flows.close(self.flows.match(peer, tag))

    def send(self, dest, tag_flags, type_byte, buf, off, length):
        """Send buf[off:off + length] as one message; SEND_OK or why not (counted).

        `tag_flags` is the TO bit and the tag; `type_byte` the message type with the IC bit. A
        response goes back the way its request came; anything else by the routing table.
        """
        self._tx_dest = dest
        self._tx_flags = tag_flags & (FLAG_TO | TAG_MAX)
        self._tx_type = type_byte
        self._tx_buf = buf
        self._tx_off = off
        self._tx_left = length
        if not self._routed():
            return SEND_NO_ROUTE
        packets = self._send_packets(self)  # (two calls in one line: too deep, [frame-limit])
        return self._sent(packets)

    def respond(self, slot, type_byte, buf, length):
        """Answer the request in `slot` with buf[:length], back to the link and physical
        address it came from (for the control responder, which answers from the receive
        path). SEND_OK or SEND_LINK_FAILED."""
        self._tx_dest = slot.src
        self._tx_flags = slot.tag
        self._tx_link = slot.link
        self._tx_phys = slot.phys
        self._tx_type = type_byte
        self._tx_buf = buf
        self._tx_off = 0
        self._tx_left = length
        return self._sent(self._send_packets(self))

    def _routed(self):
        # The link and address of the message's route (a response's reply route, else the
        # routing table's); False when there is none (counted).
        route = None
        if not self._tx_flags & FLAG_TO:
            route = self.reply_routes.take(self._tx_dest, self._tx_flags & TAG_MAX)
        if route is None:
            route = self.routes.lookup(self._tx_dest)
        if route is None:
            self._tx_buf = None
            self.counters.no_route += 1
            return False
        self._tx_link = route.link
        self._tx_phys = route.phys
        return True

    # The send path is two frames above the link's transmit (send or respond, then
    # send_packets), and _sent runs after send_packets has returned ([c-stack]).

    def _sent(self, packets):
        # What send_packets returned (the packets sent, or ~sent when the link refused the
        # next), counted; SEND_OK or SEND_LINK_FAILED.
        self._tx_buf = None
        if packets >= 0:
            self.counters.tx_packets += packets
            self.counters.tx_messages += 1
            return SEND_OK
        self.counters.tx_packets += ~packets
        self.counters.tx_failed += 1
        self.tx_failed_link = self._tx_link
        return SEND_LINK_FAILED
