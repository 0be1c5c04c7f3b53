"""Boots the Linux guest (tools/ci/linux_guest/build.py) under QEMU, its second serial port
(ttyS1, where the kernel's MCTP serial transport runs) on a UNIX socket for the host's stack,
and collects the guest's MCTP-GUEST console lines (README.md in this folder has their grammar).

From a test, with tools/ci/ on sys.path:

    from linux_guest.run import Guest

    with Guest(local_eid=8, peer_eid=9, run="geteid,echo,listen") as guest:
        link = guest.connect()           # a connected socket: the guest's ttyS1, byte for byte
        ...                              # run the host's stack on it (EID 9, route to 8)
        guest.wait_for("listen", "ready")
        ...                              # send the guest's listener a request
        results = guest.wait_done(60)
    assert results.ok, results.console
    assert results["echo"].ok

QEMU waits for that connection before it starts the machine (server=on,wait=on), so nothing
the guest sends is lost, however late the host's stack comes up. Each Guest has its own
temporary folder for the socket: any number run at once.

From the command line, with a peer program given the socket's path:

    python3 tools/ci/linux_guest/run.py [--run geteid,echo,listen] [--peer-command 'CMD {path}']

(Over ~450 lines: Guest, the QEMU process and its console, is most of it and one thing.)
"""

import argparse
import os
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

try:
    from . import build as guest_build
except ImportError:  # run as a script: this folder is on sys.path
    import build as guest_build

QEMU = "qemu-system-x86_64"
PREFIX = "MCTP-GUEST "
# What QEMU prints (on stderr, into the console's pipe) while it waits for the serial socket's
# connection, the machine not started yet.
WAITING_FOR_CONNECTION = "QEMU waiting for connection"
# Which statuses end an exchange (the others, "ready" and "info", are along the way).
FINAL_STATUSES = ("ok", "FAIL")

Unavailable = guest_build.Unavailable


def overlay_entries(files):
    """newc_archive entries for {guest path: bytes} (a path ending in "*": executable), each
    folder on the way first."""
    entries = []
    folders = set()
    for name in sorted(files):
        executable = name.endswith("*")
        path = name.rstrip("*")
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in folders:
                folders.add(folder)
                entries.append((folder, stat.S_IFDIR | 0o755, b""))
        mode = 0o755 if executable else 0o644
        entries.append((path, stat.S_IFREG | mode, bytes(files[name])))
    return entries


def guest_files(package_root, extra=(), micropython=None):
    """The files that run our package in the guest: /bin/micropython (the static binary
    build.ensure_micropython() makes, unless `micropython` names another), the package as
    /app/mctp, and `extra` ({guest path: bytes}, "app/run*" among them)."""
    files = {"bin/micropython*": _read(micropython or guest_build.ensure_micropython())}
    package = os.path.join(package_root, "mctp")
    for dirpath, dirnames, names in os.walk(package):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in names:
            if name.endswith(".py"):
                full = os.path.join(dirpath, name)
                files["app/" + os.path.relpath(full, package_root)] = _read(full)
    files.update(extra)
    return files


def _read(path):
    with open(path, "rb") as f:
        return f.read()


class GuestError(Exception):
    """The guest did not start, stopped early or ran out of time; the message ends with the
    tail of its console."""


class GuestEvent:
    """One MCTP-GUEST line: `MCTP-GUEST <name> <status> [key=value ...]`, a quoted value for
    text with spaces (the reason of a FAIL). `seconds`: when it arrived, from QEMU's start."""

    __slots__ = ("fields", "line", "name", "seconds", "status")

    def __init__(self, name, status, fields, line, seconds):
        self.name = name
        self.status = status
        self.fields = fields
        self.line = line
        self.seconds = seconds

    @property
    def ok(self):
        return self.status == "ok"

    def data(self):
        """The `data=` field's bytes (geteid, listen), or None."""
        text = self.fields.get("data")
        return None if text is None else bytes.fromhex(text)

    def __repr__(self):
        return "GuestEvent(%r)" % self.line


def parse_event(line, seconds=0.0):
    """The GuestEvent of a console line, or None for any other line."""
    start = line.find(PREFIX)  # a kernel message may share the line on a busy console
    if start < 0:
        return None
    try:
        words = shlex.split(line[start + len(PREFIX) :])
    except ValueError:
        return None
    if len(words) < 2:
        return None
    fields = {}
    for word in words[2:]:
        key, _, value = word.partition("=")
        fields[key] = value
    return GuestEvent(words[0], words[1], fields, line[start:], seconds)


class Results:
    """What a finished guest printed. `results["echo"]`: the last ok or FAIL event of that
    name (KeyError when there is none); `events`: all of them, in order; `ok`: the done line
    said ok; `boot_s`: from the start of the machine (the serial connection) to the guest's
    setup line; `total_s`: from QEMU's start to its exit."""

    def __init__(self, events, console, boot_s, total_s):
        self.events = events
        self.console = console
        self.boot_s = boot_s
        self.total_s = total_s
        done = self.last("done")
        self.ok = done is not None and done.ok

    def last(self, name, statuses=FINAL_STATUSES):
        for event in reversed(self.events):
            if event.name == name and event.status in statuses:
                return event
        return None

    def __getitem__(self, name):
        event = self.last(name)
        if event is None:
            raise KeyError("the guest printed no ok or FAIL line for %r" % name)
        return event

    def __contains__(self, name):
        return self.last(name) is not None

    def failures(self):
        return [event for event in self.events if event.status == "FAIL"]


class Guest:
    """One run of the Linux guest: QEMU with the cached kernel and initramfs, its console
    collected, its ttyS1 on the UNIX socket `serial_path`.

    local_eid, peer_eid: the guest's EID and the host's (the guest routes peer_eid to ttyS1).
    run: the exchanges, in order (geteid, echo, listen, stats, seteid, allocate@EID, ...;
    see README.md).
    vendor_id, echo_len: the echo request's PCI vendor ID and length (type byte excluded).
    timeout_ms, listen_timeout_ms: how long the guest waits for an answer, for a request.
    files: more files for the guest, {path in the guest: bytes}, an executable one's path
    ending in a "*" that is not part of it (e.g. "app/run*", which the "app" exchange runs;
    guest_files() makes such a dict for our package). append: more kernel command line. artifacts: a build.Artifacts (default: the cached
    build, or Unavailable when there is none, unless build=True). console: a file to copy
    the console to as it arrives (e.g. sys.stderr), for debugging."""

    def __init__(
        self,
        local_eid=8,
        peer_eid=9,
        run="geteid,echo,listen",
        vendor_id=0xFFFF,
        echo_len=1023,
        timeout_ms=5000,
        listen_timeout_ms=30000,
        append="",
        files=None,
        artifacts=None,
        build=False,
        cache=None,
        memory="128M",
        console=None,
    ):
        self.params = {
            "local": local_eid,
            "peer": peer_eid,
            "run": run,
            "vendor": "0x%04x" % vendor_id,
            "echolen": echo_len,
            "timeout": timeout_ms,
            "listen_timeout": listen_timeout_ms,
        }
        self.append = append
        self.files = files or {}
        self.artifacts = artifacts
        self.build = build
        self.cache = cache
        self.memory = memory
        self.console_copy = console
        self.serial_path = None
        self._initrd = None
        self.process = None
        self._folder = None
        self._lines = []
        self._events = []
        self._taken = set()  # ids of the events wait_for has returned
        self._changed = threading.Condition()
        self._reader = None
        self._started = None
        self._connected = None
        self._exited = None

    # Starting and stopping.

    def command(self):
        """QEMU's command line (start() sets the artifacts and the socket's path first)."""
        params = " ".join("mctp.%s=%s" % item for item in self.params.items())
        # panic=-1: a guest that panics reboots at once, which -no-reboot turns into QEMU's
        # exit, instead of spinning until the host's timeout.
        cmdline = "console=ttyS0 quiet panic=-1 %s %s" % (params, self.append)
        chardev = "socket,id=mctp,path=%s,server=on,wait=on" % self.serial_path.replace(",", ",,")
        return [
            QEMU,
            *("-accel", "tcg", "-m", self.memory, "-no-reboot", "-nodefaults"),
            # No display and no monitor: ttyS0 (the console) alone on stdio, ttyS1 the link.
            *("-display", "none", "-monitor", "none", "-serial", "stdio"),
            *("-chardev", chardev, "-serial", "chardev:mctp"),
            *("-kernel", self.artifacts.kernel, "-initrd", self._initrd),
            *("-append", cmdline.strip()),
        ]

    def start(self):
        if not shutil.which(QEMU):
            raise Unavailable("%s is missing: apt-get install qemu-system-x86" % QEMU)
        if self.artifacts is None:
            if self.build:
                self.artifacts = guest_build.ensure_built(self.cache)
            else:
                self.artifacts = guest_build.find_built(self.cache)
            if self.artifacts is None:
                raise Unavailable(
                    "the Linux guest is not built (or its sources changed): make linux-guest"
                )
        self._folder = tempfile.mkdtemp(prefix="mctp-linux-guest-")
        self.serial_path = os.path.join(self._folder, "ttyS1.sock")
        if len(self.serial_path) > 100:  # sun_path holds 108 bytes; a long $TMPDIR overflows it
            os.rmdir(self._folder)
            self._folder = tempfile.mkdtemp(prefix="mctp-linux-guest-", dir="/tmp")
            self.serial_path = os.path.join(self._folder, "ttyS1.sock")
        self._initrd = self._write_initrd()
        self._started = time.monotonic()
        try:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError:
            self.stop()  # `with` calls no __exit__ when __enter__ raises
            raise
        self._reader = threading.Thread(target=self._read_console, daemon=True)
        self._reader.start()
        return self

    def _write_initrd(self):
        # The cached initramfs, and after it an archive of self.files: the kernel unpacks
        # each archive of a concatenation in turn, so nothing is rebuilt for them.
        if not self.files:
            return self.artifacts.initramfs
        path = os.path.join(self._folder, "initrd")
        with open(self.artifacts.initramfs, "rb") as f:
            base = f.read()
        with open(path, "wb") as f:
            f.write(base + b"\0" * (-len(base) % 4))
            f.write(guest_build.newc_archive(overlay_entries(self.files)))
        return path

    def stop(self):
        """Ends QEMU if it still runs, and removes the socket's folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(5)
        if self.process is not None and self.process.stdout:
            self.process.stdout.close()
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _read_console(self):
        for raw in iter(self.process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n").replace("\r", "")
            seconds = time.monotonic() - self._started
            if self.console_copy is not None:
                print("guest| " + line, file=self.console_copy, flush=True)
            with self._changed:
                self._lines.append(line)
                event = parse_event(line, seconds)
                if event is not None:
                    self._events.append(event)
                self._changed.notify_all()
        self.process.wait()
        with self._changed:
            self._exited = time.monotonic()
            self._changed.notify_all()

    # The serial link.

    def wait_listening(self, timeout=30.0):
        """Wait until QEMU has opened the serial socket at `serial_path`, for a peer process
        to connect to: start() returns once QEMU is launched, and a peer started before the
        socket exists (a loaded machine) fails to open it (ENOENT)."""
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.serial_path):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise GuestError(self._why("QEMU's serial socket did not open"))
            time.sleep(0.02)

    def connect(self, timeout=10.0):
        """A socket connected to the guest's ttyS1 (the caller closes it). The machine starts
        when it connects: boot_s counts from here."""
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.serial_path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise GuestError(self._why("QEMU's serial socket did not open")) from None
                time.sleep(0.02)
        self._connected = time.monotonic()
        return sock

    # The guest's lines.

    @property
    def lines(self):
        with self._changed:
            return list(self._lines)

    @property
    def events(self):
        with self._changed:
            return list(self._events)

    @property
    def console(self):
        return "\n".join(self.lines)

    def wait_for(self, name, status=None, timeout=30.0):
        """The first event `name` (and `status`, if given) not yet returned by an earlier
        wait_for; GuestError when QEMU exits or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self._events:
                    if (
                        event.name == name
                        and (status is None or event.status == status)
                        and id(event) not in self._taken
                    ):
                        self._taken.add(id(event))
                        return event
                if self._exited is not None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
        wanted = "no %r line from the guest" % (name if status is None else name + " " + status)
        if self._exited is not None:
            raise GuestError(self._why(wanted + "; QEMU exited (%s)" % self.process.returncode))
        raise GuestError(self._why(wanted, timeout))

    def wait_done(self, timeout=120.0):
        """The Results once the guest has printed its done line and QEMU has exited;
        GuestError (QEMU killed) when that takes longer than `timeout` or QEMU stops first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._exited is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
        if self._exited is None:
            self.stop()
            raise GuestError(self._why("QEMU killed", timeout))
        results = self.results()
        if results.last("done") is None:
            raise GuestError(self._why("QEMU exited (status %s)" % self.process.returncode))
        return results

    def results(self):
        """What has arrived so far, as Results."""
        events = self.events
        setup = next((event for event in events if event.name == "setup"), None)
        boot_s = None
        if setup is not None:
            since = self._connected if self._connected is not None else self._started
            boot_s = setup.seconds - (since - self._started)
        total_s = None if self._exited is None else self._exited - self._started
        return Results(events, self.console, boot_s, total_s)

    def _why(self, what, timeout=None):
        lines = self.lines
        tail = "\n".join("  | " + line for line in lines[-30:]) or "  | (nothing)"
        after = "" if timeout is None else " after %.0f s" % timeout
        if all(WAITING_FOR_CONNECTION in line for line in lines):
            after += " (nothing connected to %s, so the machine never started)" % self.serial_path
        return "%s%s; the guest's console ended with:\n%s" % (what, after, tail)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Boot the Linux guest with the kernel's MCTP serial transport; its ttyS1 "
        "is a UNIX socket for a peer (--peer-command, or connect by hand)."
    )
    parser.add_argument("--local", type=int, default=8, help="the guest's EID (8)")
    parser.add_argument("--peer", type=int, default=9, help="the host's EID (9)")
    parser.add_argument("--run", default="geteid,echo,listen", help="the exchanges, in order")
    parser.add_argument("--vendor", type=lambda text: int(text, 0), default=0xFFFF)
    parser.add_argument("--echo-len", type=int, default=1023)
    parser.add_argument("--append", default="", help="more kernel command line")
    parser.add_argument("--timeout", type=float, default=120, help="seconds for the whole run")
    parser.add_argument("--build", action="store_true", help="build the guest when not cached")
    parser.add_argument("--cache", help="the build cache (see build.py)")
    parser.add_argument(
        "--peer-command",
        help="shell command started once QEMU waits, {path} being the socket's path; "
        "without it, connect to the path printed",
    )
    args = parser.parse_args(argv)
    guest = Guest(
        local_eid=args.local,
        peer_eid=args.peer,
        run=args.run,
        vendor_id=args.vendor,
        echo_len=args.echo_len,
        append=args.append,
        build=args.build,
        cache=args.cache,
        console=sys.stdout,
    )
    peer = None
    try:
        guest.start()
        print("linux guest: ttyS1 is %s" % guest.serial_path, flush=True)
        if args.peer_command:
            peer = subprocess.Popen(
                args.peer_command.replace("{path}", guest.serial_path), shell=True
            )
        results = guest.wait_done(args.timeout)
    except (Unavailable, GuestError) as e:
        print("linux guest: error: %s" % e, file=sys.stderr)
        return 1
    finally:
        guest.stop()
        if peer is not None and peer.poll() is None:
            try:
                peer.wait(10)
            except subprocess.TimeoutExpired:
                peer.kill()
                peer.wait()
    for event in results.events:
        print("  %6.2f s  %s" % (event.seconds, event.line))
    boot = "?" if results.boot_s is None else "%.2f s" % results.boot_s
    print(
        "linux guest: boot to setup %s, total %.2f s, %s"
        % (boot, results.total_s, "ok" if results.ok else "FAILED")
    )
    peer_ok = peer is None or peer.returncode == 0
    if not peer_ok:
        print("linux guest: the peer command exited with %s" % peer.returncode)
    return 0 if results.ok and peer_ok else 1


if __name__ == "__main__":
    sys.exit(main())
