# cmake file for Raspberry Pi Pico, the MCTP endpoint build
set(PICO_BOARD "pico")
set(PICO_PLATFORM "rp2040")

# Freeze the mctp package, the endpoint firmware and this board's board_config.py and main.py.
set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)

# The filesystem size, where the newest upstream boards set it (a port that does not read it
# here takes it from mpconfigboard.h).
if(NOT DEFINED MICROPY_HW_FLASH_STORAGE_BYTES)
    set(MICROPY_HW_FLASH_STORAGE_BYTES 1441792)  # 1408 * 1024
endif()
