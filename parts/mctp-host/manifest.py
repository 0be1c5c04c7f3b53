# Host buses for tests, tools and simulations: never frozen into a board image (mctp.host.i2c_udp
# and mctp.host.serial_stream import socket). For the MicroPython unix port and CPython.
metadata(
    description="MCTP host buses: loopback, simulated I2C, I2C over UDP, serial lines.",
    version="0.1.0",
)

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")
require("mctp-i2c", library="mctp-parts")
require("mctp-serial", library="mctp-parts")
require("mctp-capture", library="mctp-parts")

package("mctp/host", base_path="../..")
