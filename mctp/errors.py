# Response codes of the openprot-mctp-api contract and the exception that carries them.

_TEXT = (
    "success",
    "internal error",
    "no space",
    "address in use",
    "timed out",
    "bad argument",
    "server restarted",
)


class ResponseCode:
    # Numeric values are fixed by openprot-mctp-api's IPC wire format.
    SUCCESS = 0
    INTERNAL_ERROR = 1
    NO_SPACE = 2
    ADDR_IN_USE = 3
    TIMED_OUT = 4
    BAD_ARGUMENT = 5
    SERVER_RESTARTED = 6

    @staticmethod
    def from_u8(value):
        """The code for `value`, or None when it is not a known code."""
        if 0 <= value < len(_TEXT):
            return value
        return None

    @staticmethod
    def from_wire(value):
        """Like from_u8, but an unknown value read off the wire becomes INTERNAL_ERROR."""
        if 0 <= value < len(_TEXT):
            return value
        return ResponseCode.INTERNAL_ERROR

    @staticmethod
    def is_success(code):
        return code == ResponseCode.SUCCESS

    @staticmethod
    def is_error(code):
        return code != ResponseCode.SUCCESS

    @staticmethod
    def text(code):
        if 0 <= code < len(_TEXT):
            return _TEXT[code]
        return "unknown response code " + str(code)


class MctpError(Exception):
    """An MCTP operation failed; `code` is a ResponseCode value.

    For NO_SPACE on a receive, `size` is the payload size the caller's buffer must hold (the
    message stays queued, so a retry with a large enough buffer gets it); otherwise 0.
    `detail`, when the stack knows it, says what happened in words ("no route to EID 9").
    """

    def __init__(self, code, size=0, detail=None):
        if ResponseCode.from_u8(code) is None:
            raise ValueError("unknown response code " + str(code))
        super().__init__(code)
        self.code = code
        self.size = size
        self.detail = detail

    @staticmethod
    def from_code(code):
        return MctpError(code)

    def is_timeout(self):
        return self.code == ResponseCode.TIMED_OUT

    def __str__(self):
        if self.detail:
            return "MCTP error: " + _TEXT[self.code] + ": " + self.detail
        return "MCTP error: " + _TEXT[self.code]

    def __repr__(self):
        # MicroPython prints an uncaught exception with its repr (CPython with its class name
        # and str()), and an exception's default repr there shows its args alone
        # ("MctpError: 5"): this names the code and says the detail on both interpreters.
        # `args` stays (code,), what openprot-mctp-api's MctpError(code) was made from.
        text = "MctpError: " + _TEXT[self.code] + " (" + str(self.code) + ")"
        if self.detail:
            return text + ": " + self.detail
        return text
