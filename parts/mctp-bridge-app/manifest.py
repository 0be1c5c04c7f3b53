# The firmware's bridge mode (firmware/bridge.py, BRIDGE = True in board_config.py): the endpoint
# application with an upstream serial line, the forwarding and the downstream bus owner. Apart
# from mctp-endpoint, so that an endpoint's image does not carry what it never imports.
metadata(description="MCTP bridge application for boards.", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-endpoint", library="mctp-parts")
require("mctp-bridge", library="mctp-parts")
require("mctp-bus-owner", library="mctp-parts")

package("firmware", files=("bridge.py", "usb_serial.py"), base_path="../..", opt=3)
