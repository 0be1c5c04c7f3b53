# FCS-16 (mctp.fcs, with its viper loop mctp._fcs_viper): the check of the serial binding's
# frames and of the IPC stream's. A part of its own, which those two require, so that an
# endpoint on I2C alone does not carry it.
metadata(description="MCTP FCS-16 of the serial binding and the IPC stream.", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")

package("mctp", files=("fcs.py", "_fcs_viper.py"), base_path="../..", opt=3)
