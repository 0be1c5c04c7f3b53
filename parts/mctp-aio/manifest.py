# The asyncio layer: awaitable channels and the stack task. MicroPython's asyncio is built into
# the rp2 and stm32 firmware; a port without it needs micropython-lib's asyncio as well.
metadata(description="MCTP asyncio layer: awaitable channels, the stack task.", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")

package(
    "mctp/aio",
    files=(
        "__init__.py",
        "_task_flag.py",
        "flag.py",
        "task.py",
        "client.py",
        "stack.py",
        "watch.py",
    ),
    base_path="../..",
    opt=3,
)
