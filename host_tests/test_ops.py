# The operations' argument checks (mctp.ops) every client makes before it calls the server: the
# ranges they take and the words of a refusal, and nothing allocated for what they take.

from testing import heap_locked

from mctp.api import Handle, RecvMetadata
from mctp.ops import (
    check_handle,
    check_meta,
    check_opt_u8,
    check_payload,
    check_u8,
    check_u32,
    check_writable,
    payload_length,
    recv_metadata,
)


def test_the_buffer_checks_allocate_nothing_for_what_they_take():
    buf = bytearray(8)
    view = memoryview(buf)
    empty = memoryview(b"")  # nothing is ever written into it
    with heap_locked():
        check_writable(buf, "buf")
        check_writable(view, "buf")
        check_writable(empty, "buf")
        check_payload(b"x", "payload")
        check_payload(buf, "payload")
        check_payload(view, "payload")
    assert bytes(buf) == bytes(8)


def _refusal(check, *args):
    # (type of the error, its words) of check(*args).
    try:
        check(*args)
    except (TypeError, ValueError) as e:
        return type(e), str(e)
    raise AssertionError("not refused: %r" % (args,))


def test_the_range_checks_take_their_range_and_name_argument_value_and_limit():
    for value in (0, 255):
        check_u8(value, "eid")
        check_opt_u8(value, "tag")
    check_opt_u8(None, "tag")
    for value in (0, 0xFFFFFFFF):
        check_u32(value, "timeout")
    assert _refusal(check_u8, 256, "eid") == (ValueError, "eid must be 0..255, got 256")
    assert _refusal(check_opt_u8, -1, "tag") == (ValueError, "tag must be 0..255, got -1")
    assert _refusal(check_u32, 1 << 32, "timeout") == (
        ValueError,
        "timeout must be 0..4294967295 (a u32), got 4294967296",
    )
    assert _refusal(check_u8, "9", "eid") == (TypeError, "eid must be an int, got str '9'")
    assert _refusal(check_u32, None, "timeout") == (
        TypeError,
        "timeout must be an int, got None",
    )


def test_a_payload_length_is_the_whole_payload_or_a_prefix_of_it():
    assert payload_length(b"abc", None) == 3
    assert payload_length(b"abc", 0) == 0 and payload_length(b"abc", 3) == 3
    assert _refusal(payload_length, b"abc", 4) == (
        ValueError,
        "length must be 0..3 (the payload's size), got 4",
    )
    assert _refusal(payload_length, b"abc", 1.0) == (
        TypeError,
        "length must be an int, got 1.0",
    )


def test_a_receive_takes_a_handle_and_fills_the_metadata_it_is_given_or_a_new_one():
    meta = RecvMetadata()
    assert recv_metadata(meta) is meta
    assert isinstance(recv_metadata(None), RecvMetadata)
    check_handle(Handle(1))
    assert _refusal(recv_metadata, {})[0] is TypeError
    assert _refusal(check_meta, 5) == (TypeError, "meta must be a RecvMetadata, got 5")
    assert _refusal(check_handle, 1) == (
        TypeError,
        "handle must be a Handle (from req() or listener()), got 1",
    )
