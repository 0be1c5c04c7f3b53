# The endpoint application (firmware/): the stack on an I2C link, a serial link or both, the
# control responder, an echo and a PLDM base responder, its board start-up, and the IPC stream
# that serves its stack to a host over a UART (IPC_UART; imported only when configured).
metadata(description="MCTP endpoint application for boards.", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")
require("mctp-i2c", library="mctp-parts")
require("mctp-serial", library="mctp-parts")
require("mctp-control", library="mctp-parts")
require("mctp-aio", library="mctp-parts")
require("mctp-ipc", library="mctp-parts")

package("firmware", base_path="../..")
