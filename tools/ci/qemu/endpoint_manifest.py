# What a board's image freezes of this project: the endpoint part with the parts it needs, the I2C
# part as a Thumb port's (boards/*/manifest.py; the emulated Cortex-M0 has the inline assembler). The
# bench builds the Cortex-M0 image with this and with nothing frozen; the difference in flash is
# m0_frozen_flash_bytes.
add_library("mctp-parts", "../../../parts")
require("mctp-i2c", library="mctp-parts", thumb=True)
require("mctp-endpoint", library="mctp-parts")
