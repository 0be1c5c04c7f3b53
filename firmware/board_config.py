# The endpoint's configuration: the one module a board changes. Each board definition in boards/
# freezes its own `board_config` module; copy it to the board's filesystem to change a setting
# without rebuilding. firmware.board reads the top-level `board_config` module when there is
# one, and these defaults otherwise.

I2C_ADDR = 0x1D  # our 7-bit address on the MCTP bus, or None for no I2C link
EID = None  # a static EID (8..254), or None to wait for the bus owner's Set Endpoint ID
UUID = None  # 16 bytes, or None for one made from machine.unique_id()
MTU = 64  # payload bytes per packet we send: the DSP0237 baseline; at most 250
I2C_FREQ = 100_000  # Hz, for the controller

# The controller (sends) and the target (receives) are two peripherals wired to the same SDA
# and SCL: machine.I2C(CONTROLLER_ID, sda=Pin(sda), scl=Pin(scl)) and
# machine.I2CTarget(TARGET_ID, addr=I2C_ADDR, sda=Pin(sda), scl=Pin(scl)). Pins None: the
# port's fixed pins for that peripheral (stm32).
CONTROLLER_ID = 0
CONTROLLER_SDA = 4
CONTROLLER_SCL = 5
TARGET_ID = 1
TARGET_SDA = 6
TARGET_SCL = 7

# A serial MCTP link (DSP0253) as well, or instead (I2C_ADDR None: serial only): the UART's id,
# or None for none; machine.UART(SERIAL_UART, baudrate=SERIAL_BAUD, tx=Pin(tx), rx=Pin(rx))
# (pins None: the port's fixed pins for that UART). A peer on a PC attaches the kernel's
# mctp-serial to its end of the line (docs/against-linux.md). Needs the mctp-serial part.
SERIAL_UART = None
SERIAL_BAUD = 115_200
SERIAL_TX = None
SERIAL_RX = None

# The stack served over a UART of its own to an application on another machine, a host test
# rig say, that drives it through mctp.ipc (StreamClient under the Stack facade, frames as in
# docs/ipc.md) while the board keeps the timing-critical I2C target work: the UART's id, or
# None for none; the other settings as the serial link's. Needs the mctp-ipc part.
IPC_UART = None
IPC_BAUD = 115_200
IPC_TX = None
IPC_RX = None

# A bridge (firmware/bridge.py, docs/bridge.md): the host's MCTP stack on the upstream serial
# line, the endpoints on the I2C bus behind it, each reached by EID. BRIDGE True needs I2C_ADDR
# (its address downstream) and the mctp-bridge-app part. UPSTREAM "uart": the
# serial link's UART (SERIAL_UART and the rest); "usb": the board's USB as a second CDC
# interface (micropython-lib's usb-device-cdc on machine.USBDevice; RP2040, RP2350), the REPL
# keeping the first. POOL_SIZE: the EIDs it asks its bus owner for, one per endpoint behind
# it. DOWNSTREAM: their 7-bit addresses, e.g. (0x30, 0x31), or None to scan every address.
BRIDGE = False
UPSTREAM = "uart"
POOL_SIZE = 8
DOWNSTREAM = None

# A capture of the packets the links receive and send (mctp.capture, the mctp-capture part,
# docs/bridge.md): how many
# of the newest it keeps, each up to 68 bytes (76 bytes of RAM a packet), or 0 for none. After
# Ctrl-C, at the REPL (with WATCHDOG_MS None): firmware.board.app.capture.dump(), or .save(
# "capture.txt") onto the board's flash; tools/mctp_trace.py --capture reads either.
CAPTURE = 0

# The SPDM responder (firmware/spdm.py, docs/spdm.md; the mctp-spdm part): the folder on the
# board's filesystem that holds its certificate chain and device key (chain.der, device.key,
# written by tools/spdm_provision.py and copied with mpremote), e.g. "/spdm"; or None for no SPDM
# (message type 5 is then not reported).
SPDM_FOLDER = None

LED = "LED"  # a Pin name or number that blinks once per message served, or None

VENDOR_ID = 0xFFFF  # the PCI vendor ID of the echo service (message type 0x7E); set your own
ECHO_COMMAND_SET = 0x0001  # its command set, reported by Get VDM Support
PLDM_TID = 1  # the PLDM terminus ID until a SetTID

# machine.WDT: reset the board when its loop has not come round for this long (ms), or None for
# no watchdog. Off here, so a REPL session is never reset under you; on in the board images.
WATCHDOG_MS = None
