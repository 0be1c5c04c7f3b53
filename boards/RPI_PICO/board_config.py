# The MCTP endpoint's configuration for a Raspberry Pi Pico (RP2040); the same names as
# firmware/board_config.py, which documents each. Copy this file to the board's filesystem as
# board_config.py to change a setting without rebuilding.
#
# The controller (I2C0 on GP4/GP5) and the target (I2C1 on GP6/GP7) share one bus: join GP4 to
# GP6 (SDA) and GP5 to GP7 (SCL), see boards/README.md.

I2C_ADDR = 0x1D  # our 7-bit address on the MCTP bus
EID = None  # a static EID (8..254), or None to wait for the bus owner's Set Endpoint ID
UUID = None  # 16 bytes, or None for one made from machine.unique_id()
MTU = 64  # payload bytes per packet we send: the DSP0237 baseline; at most 250
I2C_FREQ = 100_000  # Hz, for the controller

CONTROLLER_ID = 0  # I2C0
CONTROLLER_SDA = 4  # GP4, physical pin 6
CONTROLLER_SCL = 5  # GP5, physical pin 7
TARGET_ID = 1  # I2C1
TARGET_SDA = 6  # GP6, physical pin 9
TARGET_SCL = 7  # GP7, physical pin 10

SERIAL_UART = None  # a serial MCTP link as well: see firmware/board_config.py
SERIAL_BAUD = 115_200
SERIAL_TX = None
SERIAL_RX = None

IPC_UART = None  # the stack served to a host over a UART: see firmware/board_config.py
IPC_BAUD = 115_200
IPC_TX = None
IPC_RX = None

BRIDGE = False  # True: a bridge to the endpoints on the I2C bus, see firmware/board_config.py
UPSTREAM = "uart"  # the bridge's link to the host: "uart" (SERIAL_UART) or "usb" (the board's USB)
POOL_SIZE = 8  # the EIDs it asks the host's bus owner for
DOWNSTREAM = None  # the endpoints' 7-bit addresses, or None to scan the bus
CAPTURE = 0  # packets a capture keeps (mctp.capture; app.capture.dump() at the REPL), 0: none

LED = "LED"  # the on-board LED (GP25), toggled once per message served

VENDOR_ID = 0xFFFF  # the PCI vendor ID of the echo service (message type 0x7E); set your own
ECHO_COMMAND_SET = 0x0001  # its command set, reported by Get VDM Support
PLDM_TID = 1  # the PLDM terminus ID until a SetTID

WATCHDOG_MS = 5000  # machine.WDT: reset the board if the endpoint's loop stalls for 5 s
SPDM_FOLDER = None  # the SPDM responder's files, e.g. "/spdm": see firmware/board_config.py
