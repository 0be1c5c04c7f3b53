# The IPC stream framing (mctp.ipc.framing): golden bytes, round trips whole and byte by byte,
# resynchronisation after garbage, every bad frame counted, and the detail frames.

from endpoints import pattern

from mctp.ipc.framing import (
    DETAIL_TEXT_MAX,
    FRAME_OVERHEAD,
    KIND_DETAIL,
    KIND_REQUEST,
    KIND_RESPONSE,
    MAX_FRAME,
    Deframer,
    decode_detail,
    encode_detail,
    encode_frame,
    seal,
)
from mctp.wire import MAX_REQUEST_SIZE, encode_get_eid


GET_EID = bytes([1]) + bytes(11)
# A GET_EID request, sequence number 1, framed.
GOLDEN = bytes.fromhex("a5 4d 01 01 0c 00 e6 01 00 00 00 00 00 00 00 00 00 00 00 df 58")
# Its answer, EID 9.
GOLDEN_ANSWER = bytes.fromhex("a5 4d 02 01 0c 00 2b 00 00 00 09 00 00 00 00 00 00 00 00 2e 44")
# A detail frame for sequence number 1: version 1, then the words.
GOLDEN_DETAIL = bytes.fromhex(
    "a5 4d 04 01 13 00 e8 01 6e 6f 20 72 6f 75 74 65 20 74 6f 20 45 49 44 20 32 30 bd 7a"
)


def frame(kind, seq, msg):
    out = bytearray(len(msg) + FRAME_OVERHEAD)
    n = encode_frame(out, kind, seq, msg)
    return bytes(out[:n])


def feed_all(d, data):
    """Every frame `data` yields, as (kind, seq, message bytes)."""
    got = []
    off = 0
    while True:
        off += d.feed(data, off, len(data) - off)
        if not d.ready:
            return got
        got.append((d.kind, d.seq, bytes(d.msg[: d.length])))
        d.release()


def test_golden_frame():
    assert frame(KIND_REQUEST, 1, GET_EID) == GOLDEN
    out = bytearray(64)
    n = encode_get_eid(memoryview(out)[7:])
    assert bytes(out[: seal(out, KIND_REQUEST, 1, n)]) == GOLDEN
    d = Deframer()
    assert feed_all(d, GOLDEN) == [(KIND_REQUEST, 1, GET_EID)]
    assert d.frames == 1 and d.dropped() == 0 and d.garbage == 0
    assert frame(KIND_RESPONSE, 1, bytes([0, 0, 0, 9]) + bytes(8)) == GOLDEN_ANSWER


def test_round_trips_whole_and_byte_by_byte():
    msgs = [b"", b"\xa5\x4d", pattern(1035), pattern(100, 3)]
    data = b""
    for i in range(len(msgs)):
        data += frame(KIND_RESPONSE, 250 + i, msgs[i])
    expected = [(KIND_RESPONSE, (250 + i) & 0xFF, msgs[i]) for i in range(len(msgs))]
    assert feed_all(Deframer(), data) == expected
    d = Deframer()
    got = []
    for i in range(len(data)):
        got += feed_all(d, data[i : i + 1])
    assert got == expected
    assert d.dropped() == 0 and d.garbage == 0


def test_garbage_between_frames_is_counted_and_skipped():
    one = frame(KIND_REQUEST, 1, b"one")
    two = frame(KIND_REQUEST, 2, b"two")
    noise = b"\x00\xff\xa5\xa5\x4d\x12garbage\xa5"
    d = Deframer()
    got = feed_all(d, noise + one + noise + two + noise)
    assert [m for _, _, m in got] == [b"one", b"two"]
    assert d.garbage > 0
    assert d.frames == 2


def test_flipped_bit_in_body_is_bad_fcs():
    bad = bytearray(frame(KIND_REQUEST, 1, pattern(40)))
    bad[20] ^= 0x10
    d = Deframer()
    got = feed_all(d, bytes(bad) + frame(KIND_REQUEST, 2, b"next"))
    assert got == [(KIND_REQUEST, 2, b"next")]
    assert d.bad_fcs == 1


def test_flipped_bit_in_length_is_bad_header():
    bad = bytearray(frame(KIND_REQUEST, 1, pattern(40)))
    bad[5] ^= 0x01  # the length's high byte: 296 bytes, were it believed
    d = Deframer()
    got = feed_all(d, bytes(bad) + frame(KIND_REQUEST, 2, b"next"))
    assert got == [(KIND_REQUEST, 2, b"next")]
    assert d.bad_header == 1


def test_truncated_frame_then_a_good_one():
    cut = frame(KIND_REQUEST, 1, pattern(200))[:60]
    good = frame(KIND_REQUEST, 2, pattern(30, 1))
    d = Deframer()
    # The good frames are first taken as the cut one's body (209 bytes): nothing comes out
    # until that is whole, then its FCS fails and the receiver finds the good frames in the
    # bytes it held, and goes on with the rest.
    assert feed_all(d, cut + good * 3) == []
    got = feed_all(d, good * 2)
    assert got == [(KIND_REQUEST, 2, pattern(30, 1))] * 5
    assert d.bad_fcs == 1


def test_oversized_length_is_refused():
    big = bytearray(MAX_FRAME + 20)
    n = seal(big, KIND_REQUEST, 1, MAX_REQUEST_SIZE + 1)  # a good header, a length too large
    d = Deframer(MAX_REQUEST_SIZE)
    got = feed_all(d, bytes(big[:n]) + frame(KIND_REQUEST, 2, b"ok"))
    assert got == [(KIND_REQUEST, 2, b"ok")]
    assert d.oversized == 1


def test_golden_detail_frame():
    out = bytearray(64)
    n = encode_detail(out, 1, "no route to EID 20")
    assert bytes(out[:n]) == GOLDEN_DETAIL
    d = Deframer()
    [(kind, seq, msg)] = feed_all(d, GOLDEN_DETAIL)
    assert (kind, seq) == (KIND_DETAIL, 1)
    assert decode_detail(msg, len(msg)) == "no route to EID 20"


def test_a_long_detail_is_cut_at_a_character_boundary():
    out = bytearray(DETAIL_TEXT_MAX + 20)
    for text, kept in (
        ("x" + "\u00e9" * 200, "x" + "\u00e9" * 119),  # 2-byte characters: 239 bytes kept
        ("\u20ac" * 100, "\u20ac" * 80),  # 3-byte characters: 240 bytes kept
        ("a" * 300, "a" * DETAIL_TEXT_MAX),
    ):
        n = encode_detail(out, 7, text)
        [(_kind, _seq, msg)] = feed_all(Deframer(), bytes(out[:n]))
        assert decode_detail(msg, len(msg)) == kept


def test_a_detail_of_an_unknown_version_or_not_utf8_has_no_words():
    assert decode_detail(b"\x02no route", 9) is None
    assert decode_detail(b"\x01ab\xff\xfecd", 7) is None
    assert decode_detail(b"", 0) is None
    assert decode_detail(b"\x01", 1) == ""


def _damaged_stream(seed, length):
    # Frames of every kind and size up to past a 200-byte deframer's limit, good and damaged in
    # every way (a bit flipped anywhere, a byte lost, a frame cut short, garbage after it).
    out = bytearray()
    state = seed
    while len(out) < length:
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        size = (state >> 4) % 240
        raw = bytearray(frame(state & 3, state >> 8 & 0xFF, pattern(size, state & 0xFF)))
        damage = state >> 12 & 7
        where = (state >> 16) % len(raw)
        if damage == 1:
            raw[where] ^= 1 << (state >> 24 & 7)
        elif damage == 2:
            raw = raw[:where] + raw[where + 1 :]
        elif damage == 3:
            raw = raw[:where]
        elif damage == 4:
            raw += bytes((0xA5, state & 0xFF, 0x4D))
        out += raw
    return out


def _deframed_in_pieces(stream, step_of):
    # Every frame the stream yields fed in pieces (step_of(previous step) bytes each), the
    # counts, and what the deframer holds at the end.
    d = Deframer(200)
    got = []
    at = 0
    step = 1
    while at < len(stream):
        step = step_of(step)
        piece = stream[at : at + step]
        got += feed_all(d, piece)
        at += step
    counts = (d.frames, d.garbage, d.bad_header, d.oversized, d.bad_fcs)
    return got, counts, bytes(d.buf[: d.n])


def test_a_damaged_stream_gives_the_same_frames_and_counts_in_pieces_of_any_size():
    totals = [0] * 5
    for seed in range(6):
        stream = _damaged_stream(seed, 4000)
        one_by_one = _deframed_in_pieces(stream, lambda step: 1)
        assert _deframed_in_pieces(stream, lambda step: step * 7 % 97 + 1) == one_by_one
        assert _deframed_in_pieces(stream, lambda step: len(stream)) == one_by_one
        totals = [a + b for a, b in zip(totals, one_by_one[1])]
    assert min(totals) > 5, totals  # (frames, garbage, bad headers, oversized, bad FCSs)
