# cmake file for Raspberry Pi Pico2, the MCTP endpoint build (ARM cores)
set(PICO_BOARD "pico2")

# To change the gpio count for QFN-80
# set(PICO_NUM_GPIOS 48)

# Freeze the mctp package, the endpoint firmware and this board's board_config.py and main.py.
# (Upstream's PICO_CYW43_SUPPORTED branch, for a Pico 2 with a radio, is left out: a Pico 2 W
# needs a board definition based on upstream's RPI_PICO2_W.)
set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)

# The filesystem size, for MicroPython after v1.28.0: its rp2 port passes this value to the
# compiler and the linker, which then stops a firmware that would overlap the filesystem.
# v1.26.0 to v1.28.0 do not read it here: they take the value in mpconfigboard.h. Keep the two
# equal.
if(NOT DEFINED MICROPY_HW_FLASH_STORAGE_BYTES)
    set(MICROPY_HW_FLASH_STORAGE_BYTES 3145728)  # 4MB flash - 1MB firmware = 3MB filesystem
endif()
