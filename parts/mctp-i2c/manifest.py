# The SMBus/I2C binding (DSP0237) over machine.I2C and machine.I2CTarget.
metadata(description="MCTP SMBus/I2C binding (DSP0237).", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")

package("mctp/i2c", base_path="../..")
