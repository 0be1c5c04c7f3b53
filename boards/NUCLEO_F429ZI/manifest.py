# The MCTP endpoint image: the port's default frozen modules, the endpoint application with the
# parts of the mctp stack it needs (parts/mctp-endpoint; no host bus), then this board's
# configuration and main.py. Paths are relative to this file, so it works as the board's own
# manifest (make BOARD_DIR=...) and through FROZEN_MANIFEST on a stock board definition.
include("$(PORT_DIR)/boards/manifest.py")
# As upstream's NUCLEO_F429ZI: the networking bundle (mip, requests, ...) over its Ethernet.
require("bundle-networking")

add_library("mctp-parts", "../../parts")
require("mctp-endpoint", library="mctp-parts")
# A bridge when board_config says BRIDGE = True (firmware/bridge.py): forwarding and the
# downstream bus owner, frozen but not imported by an endpoint.
require("mctp-bridge", library="mctp-parts")
require("mctp-bus-owner", library="mctp-parts")

module("board_config.py")
module("main.py")
