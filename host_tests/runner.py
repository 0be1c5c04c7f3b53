# Runs pytest-style test modules under MicroPython: on the unix port (mprun.py) and on bare
# metal, where the modules are frozen into the image (tools/ci/baremetal.py calls main() through
# the raw REPL, one module per fresh interpreter).
#
# It collects what pytest collects (module-level test_* functions, and test_* methods of Test*
# classes, with setup_method/teardown_method), runs each, prints failures with their
# tracebacks and ends with "<label>: N passed, N failed, N skipped". A module that cannot be
# imported is a failure.

import gc
import sys

import testing


def _collect(module):
    tests = []
    for name in sorted(dir(module)):
        obj = getattr(module, name)
        if name.startswith("test_") and callable(obj):
            tests.append((name, obj, None))
        elif name.startswith("Test") and isinstance(obj, type):
            for meth in sorted(dir(obj)):
                if meth.startswith("test_"):
                    tests.append((name + "." + meth, meth, obj))
    return tests


def _run_method(func, cls):
    instance = cls()
    setup = getattr(instance, "setup_method", None)
    if setup:
        setup(None)
    try:
        getattr(instance, func)()
    finally:
        teardown = getattr(instance, "teardown_method", None)
        if teardown:
            teardown(None)


class Counts:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def fail(self, test_id, exc):
        self.failed += 1
        self.failures.append(test_id)
        print("FAIL", test_id)
        sys.print_exception(exc)


def _tests(names, keyword, counts):
    # (test id, function, class) of every test to run; a module that fails to import is
    # counted as a failure here.
    for modname in names:
        try:
            module = __import__(modname)
        except Exception as e:
            counts.fail(modname + " (import)", e)
            continue
        for name, func, cls in _collect(module):
            test_id = modname + "::" + name
            if not keyword or keyword in test_id:
                yield test_id, func, cls


def main(names, keyword=None, label="micropython", verbose=False):
    """Run the modules `names` and print the closing line; the Counts. `verbose` names each
    test as it starts."""
    counts = Counts()
    # Each test is called from this frame (the generator above is suspended meanwhile):
    # every frame the runner adds is C stack a test cannot use on a board (8 KiB on a Pico).
    for test_id, func, cls in _tests(names, keyword, counts):
        gc.collect()
        if verbose:
            print("RUN", test_id)
        try:
            if cls is None:
                func()
            else:
                _run_method(func, cls)
        except testing.SkipTest as e:
            counts.skipped += 1
            print("SKIP", test_id, "-", e)
        except Exception as e:
            counts.fail(test_id, e)
        else:
            counts.passed += 1
    for test_id in counts.failures:
        print("FAILED", test_id)
    print(
        "%s: %d passed, %d failed, %d skipped"
        % (label, counts.passed, counts.failed, counts.skipped)
    )
    return counts
