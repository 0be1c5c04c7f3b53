# The MCTP endpoint image: the port's default frozen modules, the endpoint application with the
# parts of the mctp stack it needs (parts/mctp-endpoint; no host bus), then this board's
# configuration and main.py. Paths are relative to this file, so it works as the board's own
# manifest (make BOARD_DIR=...) and through FROZEN_MANIFEST on a stock board definition.
include("$(PORT_DIR)/boards/manifest.py")

add_library("mctp-parts", "../../parts")
# A Thumb port: the I2C part without the viper PEC that the asm_thumb one shadows here.
require("mctp-i2c", library="mctp-parts", thumb=True)
require("mctp-endpoint", library="mctp-parts")
# What board_config.py may turn on, frozen but imported only when it does: a serial link
# (SERIAL_UART), the IPC stream (IPC_UART), a capture (CAPTURE), a bridge (BRIDGE = True,
# firmware/bridge.py with forwarding and the downstream bus owner).
require("mctp-serial", library="mctp-parts")
require("mctp-ipc", library="mctp-parts")
require("mctp-capture", library="mctp-parts")
require("mctp-audit", library="mctp-parts")  # Server.check() at the REPL
require("mctp-bridge-app", library="mctp-parts")

module("board_config.py")
module("main.py")
