"""tools/run_endpoint.py in a child process, for make run's demo and the tests (CPython only).

with EndpointProcess(micropython_command(), ["--i2c-udp", "47300:47301"]) as endpoint:
    print(endpoint.ready)      # its "ready: ..." line
print(endpoint.output)         # what it printed when stopped: EID and counters
"""

import os
import select
import signal
import subprocess

from frames import micropython_command  # noqa: F401 (re-exported for the callers)

RUN_ENDPOINT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_endpoint.py")


class EndpointFailed(RuntimeError):
    """The endpoint printed no ready line: `returncode` (None if still running) and `output`."""

    def __init__(self, text, returncode, output):
        super().__init__(text + ": " + output)
        self.returncode = returncode
        self.output = output


class EndpointProcess:
    def __init__(self, interpreter, options, start_timeout=10.0):
        self.command = [interpreter, RUN_ENDPOINT, *options]
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.output = ""
        self.ready = self._ready_line(start_timeout)

    def _ready_line(self, timeout):
        if select.select([self.process.stdout], [], [], timeout)[0]:
            line = self.process.stdout.readline()
            if line.startswith("ready:"):
                return line.rstrip()
            self.output = line
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
        if not self.process.stdout.closed:
            self.output += self.process.stdout.read()
            self.process.stdout.close()
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
