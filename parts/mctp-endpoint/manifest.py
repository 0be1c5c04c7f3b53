# The endpoint application (firmware/): the stack on an I2C link, the control responder, an echo
# and a PLDM base responder, its board start-up. What a board_config.py turns on beyond that is
# in parts of its own, which a board image freezes beside this one (boards/*/manifest.py) and
# firmware.board asks for by name when one is missing: a serial link (SERIAL_UART: mctp-serial),
# the IPC stream that serves the stack to a host over a UART (IPC_UART: mctp-ipc), a capture of
# the packets (CAPTURE: mctp-capture), the bridge mode (BRIDGE: mctp-bridge-app), SPDM
# (SPDM_FOLDER: mctp-spdm-app, with mctp-spdm).
metadata(description="MCTP endpoint application for boards.", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")
require("mctp-i2c", library="mctp-parts")
require("mctp-control", library="mctp-parts")
require("mctp-aio", library="mctp-parts")

package(
    "firmware",
    files=(
        "__init__.py",
        "board.py",
        "board_config.py",
        "echo.py",
        "endpoint.py",
        "pldm.py",
        "service.py",
    ),
    base_path="../..",
    opt=3,
)
