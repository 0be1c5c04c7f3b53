// Board and hardware specific configuration
#define MICROPY_HW_BOARD_NAME                   "Raspberry Pi Pico (MCTP endpoint)"
// The filesystem size v1.26.0 to v1.28.0 use; later releases define it from
// mpconfigboard.cmake (keep the two equal).
#ifndef MICROPY_HW_FLASH_STORAGE_BYTES
#define MICROPY_HW_FLASH_STORAGE_BYTES          (1408 * 1024)
#endif
