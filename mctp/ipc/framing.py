# The stream framing of the IPC wire: one wire-codec message (mctp.wire, a request or a
# response) per frame, over any byte stream (a UNIX or TCP socket, a pipe, a pty, a UART).
#
#   offset  size  field
#   0       2     magic A5 4D
#   2       1     kind: 01 request, 02 response, 03 cancel (withdraw the pending receive),
#                 04 detail (a failed request's words, just before its response)
#   3       1     seq: the request's number; its response carries the same
#   4       2     length of the message, u16 LE, 0..max_size (1035 by default)
#   6       1     header check: the low byte of FCS-16 over bytes 2..5
#   7       n     the wire message (request or response, mctp.wire)
#   7+n     2     FCS over bytes 2..6+n, u16 LE
#
# A detail frame's message is a version byte (01) and the words of the error (Server.explain),
# UTF-8, at most DETAIL_TEXT_MAX bytes (cut at a character boundary). It carries the seq of the
# request whose response follows it. The wire codec's message stays openprot-mctp-api's: a reader
# that does not know the kind, or the version, drops the frame and still takes the response.
#
# FCS is RFC 1662's FCS-16 (the DSP0253 serial binding's): initial 0xFFFF, not complemented.
# A frame is 9 bytes longer than its message (FRAME_OVERHEAD).
#
# The receiver (Deframer) is a byte-level state machine over one preallocated buffer: bytes
# before a magic are garbage (counted in bytes); a header whose check fails (`bad_header`), a
# length above the limit (`oversized`) or a frame whose FCS fails (`bad_fcs`) is dropped, and
# the receiver looks for the next magic in the bytes it held after the failed frame's first
# byte, so a frame that follows a truncated one is still found. The header check means a
# damaged length is seen at once instead of swallowing the frames after it. Nothing is
# allocated per byte or per frame.

from .._compat import const
from ..bufcopy import copy_into
from ..fcs import FCS_INIT, fcs16
from ..wire import MAX_REQUEST_SIZE, MAX_RESPONSE_SIZE

MAGIC0 = const(0xA5)
MAGIC1 = const(0x4D)
KIND_REQUEST = const(1)
KIND_RESPONSE = const(2)
KIND_CANCEL = const(3)
KIND_DETAIL = const(4)
DETAIL_VERSION = const(1)
DETAIL_TEXT_MAX = const(240)  # bytes of text: the longest words the server has, with room
HEADER_SIZE = const(7)
FCS_SIZE = const(2)
FRAME_OVERHEAD = const(9)  # HEADER_SIZE + FCS_SIZE
MAX_MESSAGE = MAX_REQUEST_SIZE if MAX_REQUEST_SIZE > MAX_RESPONSE_SIZE else MAX_RESPONSE_SIZE
MAX_FRAME = MAX_MESSAGE + FRAME_OVERHEAD


def seal(frame, kind, seq, n):
    """Frame the `n`-byte message already at frame[HEADER_SIZE:]: write the header and the FCS
    around it; the frame's length."""
    if n < 0 or n > 0xFFFF or HEADER_SIZE + n + FCS_SIZE > len(frame):
        raise ValueError("message does not fit the frame buffer")
    frame[0] = MAGIC0
    frame[1] = MAGIC1
    frame[2] = kind & 0xFF
    frame[3] = seq & 0xFF
    frame[4] = n & 0xFF
    frame[5] = n >> 8
    frame[6] = fcs16(frame, 2, 4, FCS_INIT) & 0xFF
    end = HEADER_SIZE + n
    crc = fcs16(frame, 2, end - 2, FCS_INIT)
    frame[end] = crc & 0xFF
    frame[end + 1] = crc >> 8
    return end + FCS_SIZE


def encode_frame(frame, kind, seq, msg, n=None):
    """Copy msg[:n] (default: all of it) into `frame` and seal it; the frame's length."""
    if n is None:
        n = len(msg)
    if HEADER_SIZE + n + FCS_SIZE > len(frame):
        raise ValueError("message does not fit the frame buffer")
    copy_into(frame, HEADER_SIZE, msg, 0, n)
    return seal(frame, kind, seq, n)


def encode_detail(frame, seq, text):
    """Frame `text`, the words of request `seq`'s error, as a detail frame in `frame`; its
    length. Allocates (an error path)."""
    raw = text.encode()
    n = len(raw)
    if n > DETAIL_TEXT_MAX:
        n = DETAIL_TEXT_MAX
        while raw[n] & 0xC0 == 0x80:  # raw[n] continues a character: cut before its start
            n -= 1
    frame[HEADER_SIZE] = DETAIL_VERSION
    copy_into(frame, HEADER_SIZE + 1, raw, 0, n)
    return seal(frame, KIND_DETAIL, seq, 1 + n)


def decode_detail(msg, length):
    """The words in the detail frame's message msg[:length], or None when its version is not
    one this reader knows or its text is not UTF-8. Allocates (an error path)."""
    if length < 1 or msg[0] != DETAIL_VERSION:
        return None
    try:
        return str(bytes(msg[1:length]), "utf-8")
    except UnicodeError:
        return None


class Deframer:
    """Bytes in (feed), whole checked frames out: after feed() returns with `ready` True the
    frame's kind, seq and length are in `kind`, `seq`, `length`, its message at
    buf[HEADER_SIZE:HEADER_SIZE + length] (`msg` is a view from there); call release() before
    feeding on."""

    def __init__(self, max_size=MAX_MESSAGE):
        self.max_size = max_size
        self.buf = bytearray(max_size + FRAME_OVERHEAD)
        self.msg = memoryview(self.buf)[HEADER_SIZE:]
        self.n = 0  # bytes held in buf
        self.need = 0  # the whole frame's size once its header is checked; 0 before
        self.ready = False
        self.kind = 0
        self.seq = 0
        self.length = 0
        # Counters.
        self.frames = 0  # good frames
        self.garbage = 0  # bytes dropped outside frames
        self.bad_header = 0
        self.oversized = 0
        self.bad_fcs = 0

    def reset(self):
        """Forget what is held (a new stream): counters stay."""
        self.n = 0
        self.need = 0
        self.ready = False

    def dropped(self):
        """Frames dropped: bad header check, oversized or bad FCS."""
        return self.bad_header + self.oversized + self.bad_fcs

    def feed(self, src, off, count):
        """Take bytes from src[off:off + count] until a frame is complete; how many taken."""
        count += off  # (the end, in place of a local: [frame-limit])
        at = off
        while at < count and not self.ready:
            if self.need:
                at = self._body(src, at, count)
            else:
                at = self._header(src, at, count)
        return at - off

    def read(self, stream, avail):
        """With nothing held: up to `avail` bytes (what stream.any() said) read from `stream`
        (readinto(buf, n)) straight into buf, so that a frame that came whole is checked where
        it landed, not copied through a chunk and fed; bytes after it wait in buf for
        release(). How many it read."""
        if self.n or self.ready:
            raise ValueError("the deframer holds bytes: feed them instead")
        k = stream.readinto(self.buf, min(avail, len(self.buf))) or 0
        self.n = k
        self._settle()
        return k

    def _body(self, src, at, end):
        # As much of the body as the frame still needs, in one copy; where the input resumes.
        k = min(self.need - self.n, end - at)
        copy_into(self.buf, self.n, src, at, k)
        self.n += k
        if self.n >= self.need:
            self._settle()
        return at + k

    def _header(self, src, at, end):
        # Garbage before a magic byte, counted a byte at a time; else as much of the header as
        # has come, in one copy. Where the input resumes.
        if self.n == 0 and src[at] != MAGIC0:
            self.garbage += 1
            return at + 1
        k = min(HEADER_SIZE - self.n, end - at)
        copy_into(self.buf, self.n, src, at, k)
        self.n += k
        self._settle()
        return at + k

    def release(self):
        """Done with the ready frame: bytes held after it (after a resync) are looked at."""
        if not self.ready:
            return
        self.ready = False
        if self.n == self.need:  # (nothing after it: the common case)
            self.n = self.need = 0
            return
        self._shift(self.need)
        self._settle()

    def _shift(self, start):
        # Drop buf[:start]; what follows moves down (copy_into copies forward, so the overlap
        # is safe).
        if start < self.n:
            copy_into(self.buf, 0, self.buf, start, self.n - start)
            self.n -= start
        else:
            self.n = 0
        self.need = 0

    def _skip(self):
        # The frame at buf[0] is not one: resume at the next magic byte held after it.
        buf = self.buf
        n = self.n
        i = 1
        while i < n and buf[i] != MAGIC0:
            i += 1
        self.garbage += i
        self._shift(i)

    def _settle(self):
        # Check what buf[:n] holds as far as it goes: drop what cannot start a frame, check a
        # header once whole, a frame once whole; sets `ready` for a good frame.
        buf = self.buf
        while self.n:
            n = self.n
            if buf[0] != MAGIC0 or (n > 1 and buf[1] != MAGIC1):
                self._skip()
                continue
            if n < HEADER_SIZE:
                return
            if not self.need:
                if fcs16(buf, 2, 4, FCS_INIT) & 0xFF != buf[6]:
                    self.bad_header += 1
                    self._skip()
                    continue
                length = buf[4] | buf[5] << 8
                if length > self.max_size:
                    self.oversized += 1
                    self._skip()
                    continue
                self.need = HEADER_SIZE + length + FCS_SIZE
            if n < self.need:
                return
            end = self.need - FCS_SIZE
            if fcs16(buf, 2, end - 2, FCS_INIT) != buf[end] | buf[end + 1] << 8:
                self.bad_fcs += 1
                self._skip()
                continue
            self.kind = buf[2]
            self.seq = buf[3]
            self.length = end - HEADER_SIZE
            self.frames += 1
            self.ready = True
            return
