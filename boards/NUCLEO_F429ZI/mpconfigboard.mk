MCU_SERIES = f4
CMSIS_MCU = STM32F429xx
AF_FILE = boards/stm32f429_af.csv
LD_FILES = boards/stm32f429.ld boards/common_ifs.ld
TEXT0_ADDR = 0x08000000
TEXT1_ADDR = 0x08020000

# MicroPython settings
MICROPY_PY_LWIP = 1
MICROPY_PY_SSL = 1
MICROPY_SSL_MBEDTLS = 1
# As upstream: the flash functions the UART IRQ needs run from RAM, so mpremote's file transfers
# over the ST-LINK's UART survive flash writes.
MICROPY_HW_ENABLE_ISR_UART_FLASH_FUNCS_IN_RAM = 1

# Freeze the mctp package, the endpoint firmware and this board's board_config.py and main.py.
FROZEN_MANIFEST ?= $(BOARD_DIR)/manifest.py
