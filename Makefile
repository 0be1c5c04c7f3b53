# Everything installs into .venv from PyPI at the versions pinned in pyproject.toml.
#
#   make test   the whole suite: ruff, pytest on CPython (with the serial binding against the
#               Linux kernel in a QEMU guest, built once and cached: make linux-guest), the
#               same tests on the MicroPython unix port, the manifest check, mpy-cross for
#               armv6m / armv7m / armv7emsp, and the board definitions in boards/ (their
#               manifests, frozen modules and board_config)
#   make run    the firmware endpoint on the unix port, set up and used by a bus owner on
#               CPython over the UDP I2C bus, with every frame decoded (tools/run_demo.py)
#   make fuzz   100,000 fuzzed frames per interpreter into the endpoint (over UDP and in
#               process) and items on its IPC stream, IPC requests and decoder inputs
#               (tools/fuzz.py); SEED=n to vary
#   make bench-m0  the instruction-count bench on the emulated Cortex-M0 (tools/ci/baremetal.py)
#   make cost-m0   where those instructions go: unit costs and the paths' parts
#
# make test also runs the suite on two emulated boards (MicroPython's qemu port under QEMU: a
# Cortex-M0 and a Cortex-M3) when gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm
# and a MicroPython tree (MICROPY_DIR) are there; it says so when they are not, and with CI
# set that fails the run.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

MICROPY_DIR ?= ../shared/micropython
BAREMETAL := $(BIN)/python tools/ci/baremetal.py --micropython-dir $(MICROPY_DIR)

.PHONY: all setup test lint test-cpython test-micropython check-manifest compile check-boards test-baremetal bench bench-m0 cost-m0 frames run fuzz linux-guest test-linux-guest clean

all: test

$(STAMP): pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check "pip==25.3"
	$(BIN)/pip install --quiet --group dev
	$(BIN)/pip install --quiet --no-deps "micropython-stubber==1.29.1"
	# Only its copy of MicroPython's manifestfile module is used; without its dependencies its
	# own commands cannot run, so their launchers go rather than fail when tried.
	rm -f $(BIN)/stubber $(BIN)/mpflash
	touch $@

setup: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

# pytest exits non-zero when any test fails and with 5 when it collected none.
test-cpython: $(STAMP)
	$(BIN)/python -m pytest

# mprun.py prints "micropython: N passed, N failed" and exits 1 on a failure or on no test.
test-micropython: $(STAMP)
	$(BIN)/micropython host_tests/mprun.py

check-manifest: $(STAMP)
	$(BIN)/python tools/ci/check_package.py manifest

compile: $(STAMP)
	$(BIN)/python tools/ci/check_package.py compile

# Each boards/*/manifest.py against a stub of its port's manifest, its frozen modules compiled
# for the board's architecture, and its board_config.py against firmware/board_config.py.
check-boards: $(STAMP)
	$(BIN)/python tools/ci/check_package.py boards

# Builds (cached outside the clone) and boots each image under QEMU, runs every test module
# there, prints one closing line per board; then the Cortex-M0 bench against its baseline
# (tools/ci/qemu/bench_baseline.txt: a figure 3% off fails; `make bench-m0 UPDATE=1` rewrites it)
# and the cost breakdown (make cost-m0), which must run.
test-baremetal: $(STAMP)
	$(BAREMETAL) test
	$(BAREMETAL) bench --check
	$(BAREMETAL) run MICROBIT tools/ci/qemu/cost_m0.py

test: lint test-linux-guest test-cpython test-micropython check-manifest compile check-boards test-baremetal

# Figures for docs/performance.md, on both interpreters.
bench: $(STAMP)
	$(BIN)/python tools/bench.py
	$(BIN)/micropython tools/bench.py

bench-m0: $(STAMP)
	$(BAREMETAL) bench $(if $(UPDATE),--update)

# The unit costs (a call, an attribute read, a copied byte) and the parts of the bench's paths
# on the emulated Cortex-M0, behind the breakdown in docs/performance.md.
cost-m0: $(STAMP)
	$(BAREMETAL) run MICROBIT tools/ci/qemu/cost_m0.py

# Which functions get a heap-allocated frame on MicroPython (test_alloc.py enforces it).
frames: $(STAMP)
	$(BIN)/python tools/ci/frames.py

SEED ?= 1
FUZZ_FRAMES ?= 100000

# In process and over UDP (the endpoint under both interpreters) from CPython, then in process
# under MicroPython. Each prints name: value unit lines and fails on any failure.
fuzz: $(STAMP)
	$(BIN)/python tools/fuzz.py --frames $(FUZZ_FRAMES) --seed $(SEED)
	$(BIN)/micropython tools/fuzz.py --mode inproc --frames $(FUZZ_FRAMES) --seed $(SEED)

run: $(STAMP)
	$(BIN)/python tools/run_demo.py --micropython $(BIN)/micropython

# The Linux guest for the Linux interop tests: a kernel with MCTP_SERIAL, an initramfs and a
# static MicroPython for our package there, built once (5 to 10 minutes on 2 cores) and cached
# outside the clone (tools/ci/linux_guest/README.md).
linux-guest: $(STAMP)
	$(BIN)/python tools/ci/linux_guest/build.py

# make test's step before the tests: the guest built, or found in its cache, for
# host_tests/test_linux_serial.py. Where it cannot be built (its Debian packages missing) that
# is said and the tests skip; with CI set, it fails the run.
test-linux-guest: $(STAMP)
	$(BIN)/python tools/ci/linux_guest/build.py || { [ -z "$$CI" ] && echo "linux guest: not built: the Linux interop tests will skip"; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build
