# The MCTP endpoint's configuration for an ST NUCLEO-F429ZI (STM32F429ZI); the same names as
# firmware/board_config.py, which documents each. Copy this file to the board's filesystem
# (/flash) as board_config.py to change a setting without rebuilding.
#
# The controller (I2C1: SCL PB8, SDA PB9) and the target (I2C2: SCL PB10, SDA PB11) share one
# bus: join PB9 to PB11 (SDA) and PB8 to PB10 (SCL), see boards/README.md. stm32 hardware I2C
# uses the board's fixed pins (MICROPY_HW_I2Cn_SCL/SDA in mpconfigboard.h), so the pins are None.

I2C_ADDR = 0x1D  # our 7-bit address on the MCTP bus
EID = None  # a static EID (8..254), or None to wait for the bus owner's Set Endpoint ID
UUID = None  # 16 bytes, or None for one made from machine.unique_id()
MTU = 64  # payload bytes per packet we send: the DSP0237 baseline; at most 250
I2C_FREQ = 100_000  # Hz, for the controller

CONTROLLER_ID = 1  # I2C1: SCL PB8 (CN7 pin 2, D15), SDA PB9 (CN7 pin 4, D14)
CONTROLLER_SDA = None
CONTROLLER_SCL = None
TARGET_ID = 2  # I2C2: SCL PB10 (CN10 pin 32), SDA PB11 (CN10 pin 34)
TARGET_SDA = None
TARGET_SCL = None

SERIAL_UART = None  # a serial MCTP link as well: see firmware/board_config.py
SERIAL_BAUD = 115_200
SERIAL_TX = None
SERIAL_RX = None

IPC_UART = None  # the stack served to a host over a UART: see firmware/board_config.py
IPC_BAUD = 115_200
IPC_TX = None
IPC_RX = None

BRIDGE = False  # True: a bridge to the endpoints on the I2C bus, see firmware/board_config.py
UPSTREAM = "uart"  # the bridge's link to the host: "uart" (SERIAL_UART)
POOL_SIZE = 8  # the EIDs it asks the host's bus owner for
DOWNSTREAM = None  # the endpoints' 7-bit addresses, or None to scan the bus
CAPTURE = 0  # packets a capture keeps (mctp.capture; app.capture.dump() at the REPL), 0: none

LED = "LED_GREEN"  # LD1 (PB0), toggled once per message served

VENDOR_ID = 0xFFFF  # the PCI vendor ID of the echo service (message type 0x7E); set your own
ECHO_COMMAND_SET = 0x0001  # its command set, reported by Get VDM Support
PLDM_TID = 1  # the PLDM terminus ID until a SetTID

WATCHDOG_MS = 5000  # machine.WDT: reset the board if the endpoint's loop stalls for 5 s
SPDM_FOLDER = None  # the SPDM responder's files, e.g. "/spdm": see firmware/board_config.py
