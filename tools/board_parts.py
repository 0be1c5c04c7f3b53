# What a board image of boards/ freezes of this project, for the tools that build the images
# (tools/build_boards.py) and check them (tools/ci/check_package.py): the endpoint part, the
# parts its board_config may turn on (imported only when it does: SERIAL_UART, IPC_UART,
# CAPTURE, the invariants' check for the REPL, BRIDGE = True, whose part requires mctp-bridge and
# mctp-bus-owner), and the board's own modules.
BOARD_PARTS = (
    "mctp-endpoint",
    "mctp-serial",
    "mctp-ipc",
    "mctp-capture",
    "mctp-audit",
    "mctp-bridge-app",
)
BOARD_MODULES = ("board_config.py", "main.py")
# Every board here is on a port with the inline Thumb assembler (rp2, stm32): its manifest requires
# the I2C part with thumb=True before the others, which leaves out the viper PEC that the
# asm_thumb one shadows there (parts/mctp-i2c/manifest.py).
BOARD_REQUIRES = 'require("mctp-i2c", library="mctp-parts", thumb=True)\n' + "".join(
    'require("%s", library="mctp-parts")\n' % part for part in BOARD_PARTS
)
