# The Linux guest (the kernel's MCTP serial transport under QEMU), for the serial binding's
# interop tests: build.py builds and caches it, run.py boots it (`from linux_guest.run import
# Guest`, with tools/ci/ on sys.path). CPython only.
