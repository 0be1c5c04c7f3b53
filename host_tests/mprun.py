# Runs the pytest-style test modules of host_tests/ under the MicroPython unix port.
#
#     micropython host_tests/mprun.py [-k SUBSTRING] [test_module ...]
#
# It ends with "micropython: N passed, N failed, N skipped" (runner.py) and exits 1 when a test
# failed or when no test ran at all.

import os
import sys

_HERE = __file__.rpartition("/")[0] or "."
sys.path.insert(0, _HERE + "/..")
sys.path.insert(0, _HERE)

import runner  # noqa: E402


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
    counts = runner.main(names, keyword)
    if counts.failed:
        return 1
    if not counts.passed:
        print("error: no test ran")
        return 1
    return 0


sys.exit(main(sys.argv[1:]))
