# The seed's error tests (error.rs), plus the checks a Python caller relies on.

from testing import raises

from mctp.errors import MctpError, ResponseCode

ALL_CODES = (
    (ResponseCode.SUCCESS, 0, "success"),
    (ResponseCode.INTERNAL_ERROR, 1, "internal error"),
    (ResponseCode.NO_SPACE, 2, "no space"),
    (ResponseCode.ADDR_IN_USE, 3, "address in use"),
    (ResponseCode.TIMED_OUT, 4, "timed out"),
    (ResponseCode.BAD_ARGUMENT, 5, "bad argument"),
    (ResponseCode.SERVER_RESTARTED, 6, "server restarted"),
)


def test_success_is_success():
    assert ResponseCode.is_success(ResponseCode.SUCCESS)
    assert not ResponseCode.is_error(ResponseCode.SUCCESS)
    for code, _, _ in ALL_CODES[1:]:
        assert not ResponseCode.is_success(code)
        assert ResponseCode.is_error(code)


def test_from_u8_round_trip():
    for code, value, _ in ALL_CODES:
        assert code == value
        assert ResponseCode.from_u8(value) == code
    assert ResponseCode.from_u8(7) is None
    assert ResponseCode.from_u8(255) is None


def test_unknown_wire_code_reads_as_internal_error():
    assert ResponseCode.from_wire(7) == ResponseCode.INTERNAL_ERROR
    assert ResponseCode.from_wire(255) == ResponseCode.INTERNAL_ERROR
    assert ResponseCode.from_wire(4) == ResponseCode.TIMED_OUT


def test_display_strings():
    for code, _, text in ALL_CODES:
        assert ResponseCode.text(code) == text
    assert ResponseCode.text(9) == "unknown response code 9"


def test_is_timeout():
    assert MctpError(ResponseCode.TIMED_OUT).is_timeout()
    for code, _, _ in ALL_CODES:
        if code != ResponseCode.TIMED_OUT:
            assert not MctpError(code).is_timeout()


def test_error_display():
    assert str(MctpError(ResponseCode.TIMED_OUT)) == "MCTP error: timed out"
    assert str(MctpError(ResponseCode.NO_SPACE)) == "MCTP error: no space"


def test_error_from_code():
    err = MctpError.from_code(ResponseCode.BAD_ARGUMENT)
    assert err.code == ResponseCode.BAD_ARGUMENT
    assert isinstance(err, Exception)


def test_error_carries_needed_size():
    assert MctpError(ResponseCode.NO_SPACE, 700).size == 700
    assert MctpError(ResponseCode.NO_SPACE).size == 0


def test_error_with_unknown_code_is_refused():
    with raises(ValueError):
        MctpError(7)


def test_error_can_be_raised_and_caught_with_its_code():
    with raises(MctpError) as caught:
        raise MctpError(ResponseCode.ADDR_IN_USE)
    assert caught.value.code == ResponseCode.ADDR_IN_USE
