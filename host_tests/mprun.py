# Runs the pytest-style test modules of host_tests/ under the MicroPython unix port.
#
#     micropython host_tests/mprun.py [-k SUBSTRING] [test_module ...]
#
# It collects what pytest collects in these modules (module-level test_* functions, and test_*
# methods of Test* classes, with setup_method/teardown_method), runs each, prints failures with
# their tracebacks and ends with "micropython: N passed, N failed, N skipped". The exit status
# is 1 when a test failed or when no test ran at all.

import gc
import os
import sys

_HERE = __file__.rpartition("/")[0] or "."
_ROOT = _HERE + "/.."
sys.path.insert(0, _ROOT)
sys.path.insert(0, _HERE)

import testing  # noqa: E402


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


def _run_one(func, cls):
    if cls is None:
        func()
        return
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


def main(argv):
    keyword = None
    wanted = []
    i = 0
    while i < len(argv):
        if argv[i] == "-k":
            keyword = argv[i + 1]
            i += 2
            continue
        wanted.append(argv[i].rpartition("/")[2].replace(".py", ""))
        i += 1
    names = sorted(
        f[:-3] for f in os.listdir(_HERE) if f.startswith("test_") and f.endswith(".py")
    )
    if wanted:
        missing = [w for w in wanted if w not in names]
        if missing:
            print("no such test module:", " ".join(missing))
            return 1
        names = wanted
    passed = failed = skipped = 0
    failures = []
    for modname in names:
        module = __import__(modname)
        for name, func, cls in _collect(module):
            test_id = modname + "::" + name
            if keyword and keyword not in test_id:
                continue
            gc.collect()
            try:
                _run_one(func, cls)
            except testing.SkipTest as e:
                skipped += 1
                print("SKIP", test_id, "-", e)
            except Exception as e:
                failed += 1
                failures.append(test_id)
                print("FAIL", test_id)
                sys.print_exception(e)
            else:
                passed += 1
    for test_id in failures:
        print("FAILED", test_id)
    print("micropython: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    if failed:
        return 1
    if not passed:
        print("error: no test ran")
        return 1
    return 0


sys.exit(main(sys.argv[1:]))
