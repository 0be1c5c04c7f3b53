"""tools/run_endpoint.py in a child process, for make run's demo, the fuzzer and the tests
(CPython only).

with EndpointProcess(micropython_command(), ["--i2c-udp", "0:%d" % my_port]) as endpoint:
    print(endpoint.ready)      # its "ready: ..." line
    endpoint.port              # the UDP port it listens on (0 asks it to pick a free one)
    endpoint.ipc               # with --ipc: where it serves (unix:PATH, tcp:PORT, serial:PATH)
    endpoint.ipc_port          # with --ipc tcp:PORT: the TCP port bound (tcp:0 takes a free one)
    endpoint.ask("audit")      # with --console: a command, and the line it answers
print(endpoint.output)         # what it printed when stopped: EID and counters
"""

import os
import re
import select
import signal
import subprocess
import sys

RUN_ENDPOINT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_endpoint.py")


def micropython_command():
    """The MicroPython unix port installed beside this Python (the .venv's), else on PATH."""
    beside_python = os.path.join(os.path.dirname(sys.executable), "micropython")
    return beside_python if os.path.exists(beside_python) else "micropython"


class EndpointFailed(RuntimeError):
    """The endpoint printed no ready line: `returncode` (None if still running) and `output`."""

    def __init__(self, text, returncode, output):
        super().__init__(text + ": " + output)
        self.returncode = returncode
        self.output = output


class EndpointProcess:
    """`preexec_fn` runs in the child before the interpreter starts (subprocess.Popen's: a
    resource limit set there, say)."""

    def __init__(self, interpreter, options, start_timeout=10.0, preexec_fn=None):
        self.command = [interpreter, RUN_ENDPOINT, *options]
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=preexec_fn,  # noqa: PLW1509 (the test harnesses run no threads)
        )
        self.output = ""
        self.ready = self._ready_line(start_timeout)
        udp = re.search(r"UDP (\d+) ->", self.ready)
        self.port = int(udp.group(1)) if udp else None  # (None: on a serial line only)
        ipc = re.search(r"IPC ((unix|tcp|serial):[^,]*)", self.ready)
        self.ipc = ipc.group(1) if ipc else None
        self.ipc_port = int(self.ipc[4:]) if ipc and ipc.group(2) == "tcp" else None

    def descriptors(self):
        """How many file descriptors the process has open (/proc/PID/fd)."""
        return len(os.listdir("/proc/%d/fd" % self.process.pid))

    def cpu_seconds(self):
        """The CPU time the process has used, user and system (/proc/PID/stat)."""
        with open("/proc/%d/stat" % self.process.pid) as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self):
        return self.process.poll() is None

    def ask(self, text, timeout=10.0):
        """Send one console command (the endpoint runs with --console); the first line it
        prints back. EndpointFailed when it has died or says nothing in time."""
        try:
            self.process.stdin.write(text + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise EndpointFailed("the endpoint is gone", self.process.poll(), "") from None
        if not select.select([self.process.stdout], [], [], timeout)[0]:
            raise EndpointFailed("the endpoint did not answer " + text, None, "")
        line = self.process.stdout.readline()
        if not line:
            raise EndpointFailed("the endpoint is gone", self.process.poll(), self.stop_output())
        return line.rstrip()

    def stop_output(self):
        self.stop()
        return self.output

    def _ready_line(self, timeout):
        if select.select([self.process.stdout], [], [], timeout)[0]:
            line = self.process.stdout.readline()
            if line.startswith("ready:"):
                return line.rstrip()
            self.output = line
            try:
                self.process.wait(5)  # it is on its way out (a usage error, a port in use)
            except subprocess.TimeoutExpired:
                pass
        code = self.stop()
        raise EndpointFailed("the endpoint did not start", code, self.output)

    def stop(self, signum=signal.SIGINT):
        """Stop it (SIGINT: it prints its counters and exits 0); its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.process.stdin.closed:
            self.process.stdin.close()
        if not self.process.stdout.closed:
            self.output += self.process.stdout.read()
            self.process.stdout.close()
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
