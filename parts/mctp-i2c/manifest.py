# The SMBus/I2C binding (DSP0237) over machine.I2C and machine.I2CTarget.
#
# thumb=True is for a port with the inline Thumb assembler (rp2, stm32: boards/*/manifest.py
# require this part so before the endpoint's): mctp.i2c.pec takes the asm_thumb PEC there, and
# the viper PEC it falls back to elsewhere (_pec_viper) is left out of the image.
import os

metadata(description="MCTP SMBus/I2C binding (DSP0237).", version="0.1.0")
options.defaults(thumb=False)

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")

package(
    "mctp/i2c",
    files=sorted(
        name
        for name in os.listdir("../../mctp/i2c")
        if name.endswith(".py") and not (options.thumb and name == "_pec_viper.py")
    ),
    base_path="../..",
    opt=3,
)
