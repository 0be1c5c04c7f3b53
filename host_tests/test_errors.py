# openprot-mctp-api's error tests (error.rs), plus the checks a Python caller relies on.

from testing import IS_MICROPYTHON, raises, skip

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


# How an error reads: str() and repr() name the code and say the detail on both interpreters,
# and so does the line printed for an uncaught one (MicroPython prints its repr there).

NO_ROUTE = MctpError(ResponseCode.BAD_ARGUMENT, 0, "no route to EID 20")


def test_str_and_repr_name_the_code_and_the_detail():
    assert str(NO_ROUTE) == "MCTP error: bad argument: no route to EID 20"
    assert repr(NO_ROUTE) == "MctpError: bad argument (5): no route to EID 20"
    assert repr(MctpError(ResponseCode.TIMED_OUT)) == "MctpError: timed out (4)"
    too_small = MctpError(ResponseCode.NO_SPACE, 300, "the message needs a buffer of 300 bytes")
    assert repr(too_small) == "MctpError: no space (2): the message needs a buffer of 300 bytes"


def test_code_size_detail_and_args_stay_as_made():
    err = MctpError(ResponseCode.NO_SPACE, 300, "the message needs a buffer of 300 bytes")
    assert (err.code, err.size, err.detail) == (ResponseCode.NO_SPACE, 300, err.detail)
    assert err.args == (ResponseCode.NO_SPACE,)
    assert MctpError(*NO_ROUTE.args).code == ResponseCode.BAD_ARGUMENT


def _uncaught_line(err):
    # The last line the interpreter prints for `err` raised and not caught.
    if IS_MICROPYTHON:
        import io  # noqa: PLC0415
        import sys  # noqa: PLC0415

        out = io.StringIO()
        sys.print_exception(err, out)
        return out.getvalue().rstrip().split("\n")[-1]
    import traceback  # noqa: PLC0415

    return traceback.format_exception_only(type(err), err)[-1].rstrip()


def test_an_uncaught_error_prints_its_code_and_detail():
    try:
        raise NO_ROUTE
    except MctpError as err:
        line = _uncaught_line(err)
    if IS_MICROPYTHON:
        assert line == "MctpError: bad argument (5): no route to EID 20"
    else:
        assert line == "mctp.errors.MctpError: MCTP error: bad argument: no route to EID 20"


def test_an_uncaught_error_as_the_unix_port_prints_it():
    if IS_MICROPYTHON:
        skip("starts the unix port: CPython drives it")
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    micropython = os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.path.exists(micropython):
        skip("no MicroPython unix port beside this interpreter")
    script = (
        "import sys\nsys.path.insert(0, %r)\nfrom mctp.errors import MctpError\n"
        "raise MctpError(5, 0, 'no route to EID 20')\n" % root
    )
    # (The unix port writes a traceback to stdout.)
    done = subprocess.run(
        [micropython, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.rstrip().split("\n")[-1] == (
        "MctpError: bad argument (5): no route to EID 20"
    )
