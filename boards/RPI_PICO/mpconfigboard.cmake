# cmake file for Raspberry Pi Pico, the MCTP endpoint build
set(PICO_BOARD "pico")
set(PICO_PLATFORM "rp2040")

# Freeze the mctp package, the endpoint firmware and this board's board_config.py and main.py.
set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)

# The filesystem size, for MicroPython after v1.28.0: its rp2 port passes this value to the
# compiler and the linker, which then stops a firmware that would overlap the filesystem.
# v1.26.0 to v1.28.0 do not read it here: they take the value in mpconfigboard.h. Keep the two
# equal.
if(NOT DEFINED MICROPY_HW_FLASH_STORAGE_BYTES)
    set(MICROPY_HW_FLASH_STORAGE_BYTES 1441792)  # 1408 * 1024
endif()
