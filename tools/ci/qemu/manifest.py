# What tools/ci/baremetal.py freezes into the emulated boards' images: the package, the
# firmware, the tests with their helpers and runner, and the tools the tests import. Those boards
# have no filesystem, so everything a test imports must be here. (A manifest runs with its own
# folder as the working directory.)
import os

include("$(MPY_DIR)/extmod/asyncio")  # the port's C part is enabled by baremetal.py's PATCHES
package("mctp", base_path="../../..")
package("firmware", base_path="../../..")

# Every module of host_tests/ but pytest's conftest.py and the unix port's entry point.
for name in sorted(os.listdir("../../../host_tests")):
    if name.endswith(".py") and name not in ("conftest.py", "mprun.py"):
        module(name, base_path="../../../host_tests")

module("fuzz.py", base_path="../..")
module("fuzz_rig.py", base_path="../..")
module("run_endpoint.py", base_path="../..")
module("bench.py", base_path="../..")
module("bench_m0.py")
module("cli.py", base_path="../..")
