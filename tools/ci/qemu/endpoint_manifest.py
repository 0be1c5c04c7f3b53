# What a board's image freezes of this project: the endpoint part with the parts it needs. The
# bench builds the Cortex-M0 image with this and with nothing frozen; the difference in flash is
# m0_frozen_flash_bytes.
add_library("mctp-parts", "../../../parts")
require("mctp-endpoint", library="mctp-parts")
