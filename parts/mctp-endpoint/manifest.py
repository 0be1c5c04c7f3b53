# The endpoint application (firmware/): the stack on one I2C link, the control responder, an
# echo and a PLDM base responder, and its board start-up.
metadata(description="MCTP endpoint application for boards.", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")
require("mctp-i2c", library="mctp-parts")
require("mctp-control", library="mctp-parts")
require("mctp-aio", library="mctp-parts")

package("firmware", base_path="../..")
