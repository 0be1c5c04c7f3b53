# pytest collects host_tests/test_*.py; mprun.py runs the same modules under MicroPython.
collect_ignore = ["mprun.py"]
