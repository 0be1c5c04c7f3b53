# Host buses for tests, tools and simulations: never frozen into a board image (mctp.host.i2c_udp
# imports socket). For the MicroPython unix port and CPython.
metadata(description="MCTP host buses: loopback, simulated I2C, I2C over UDP.", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")
require("mctp-i2c", library="mctp-parts")

package("mctp/host", base_path="../..")
