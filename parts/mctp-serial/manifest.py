# The serial binding (DSP0253) over machine.UART or any byte stream with its methods.
metadata(description="MCTP serial binding (DSP0253).", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")
require("mctp-fcs", library="mctp-parts")

package("mctp/serial", base_path="../..", opt=3)
