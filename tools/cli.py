# Command lines for the tools that run under both CPython and MicroPython (the unix port keeps
# no docstrings and its argparse is partial): --help prints the tool's usage text, and anything
# wrong with the command line is one "error:" line under the usage line, with exit status 2, as
# argparse does it on CPython. Never a traceback.

import sys


class CommandLine:
    """`usage`: the help text (its first line is the usage line). `valued`: options that take a
    value, with their defaults (None: no default); `flags`: options without one; `repeated`:
    valued options that may be given more than once (a list). `positional`: whether other
    arguments are allowed (else one is an error)."""

    def __init__(self, usage, valued=None, flags=(), repeated=(), positional=False):
        self.usage = usage
        self.valued = valued or {}
        self.flags = flags
        self.repeated = repeated
        self.positional = positional

    def parse(self, argv):
        """The options, by name without the dashes ('i2c_udp'), and the positional arguments."""
        options = {}
        for name, default in self.valued.items():
            options[_key(name)] = default
        for name in self.flags:
            options[_key(name)] = False
        for name in self.repeated:
            options[_key(name)] = []
        rest = []
        i = 0
        while i < len(argv):
            arg = argv[i]
            i += 1
            if arg in ("-h", "--help"):
                print(self.usage.strip())
                sys.exit(0)
            if arg in self.flags:
                options[_key(arg)] = True
            elif arg in self.valued or arg in self.repeated:
                if i >= len(argv):
                    self.fail(arg + " needs a value")
                if arg in self.repeated:
                    options[_key(arg)].append(argv[i])
                else:
                    options[_key(arg)] = argv[i]
                i += 1
            elif arg.startswith("-") and len(arg) > 1:
                self.fail("unknown option " + arg)
            elif self.positional:
                rest.append(arg)
            else:
                self.fail("unexpected argument " + arg)
        return options, rest

    def fail(self, message):
        print(self.usage.strip().split("\n")[0], file=sys.stderr)
        print("error: " + message, file=sys.stderr)
        sys.exit(2)

    def number(self, name, text, low, high):
        """The integer `text` (decimal or 0x hex) given for option `name`, within low..high."""
        try:
            value = int(text, 0)
        except (TypeError, ValueError):
            self.fail("%s: %r is not a number" % (name, text))
        if not low <= value <= high:
            self.fail("%s: %s is not within %s..%s" % (name, text, low, high))
        return value

    def udp_ports(self, text):
        """--i2c-udp LISTEN:PEER's two ports (LISTEN 0: a free one)."""
        listen, colon, peer = text.partition(":")
        if not colon:
            self.fail("--i2c-udp: give LISTEN:PEER, two UDP ports (LISTEN 0: a free one)")
        return self.number("--i2c-udp LISTEN", listen, 0, 65535), self.number(
            "--i2c-udp PEER", peer, 1, 65535
        )


def stop_on_sigterm():
    """CPython: SIGTERM stops the tool like Ctrl-C (a KeyboardInterrupt). The MicroPython unix
    port has no signal module; SIGTERM ends it at once there, which loses nothing but the
    counters a tool prints when it stops."""
    try:
        import signal  # noqa: PLC0415

        def interrupt(_signum, _frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupt)
    except ImportError:
        pass


def _key(option):
    return option.lstrip("-").replace("-", "_")
