"""One lock file for the build caches two runs on one machine may share (the bare-metal images,
the Linux guest): one builds at a time, and the other then finds its result."""

import contextlib
import fcntl
import os


@contextlib.contextmanager
def locked(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
