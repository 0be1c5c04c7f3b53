# What a board's image freezes of this project: the package and the endpoint firmware. The
# bench builds the Cortex-M0 image with this and with nothing frozen; the difference in flash is
# m0_frozen_flash_bytes.
package("mctp", base_path="../..")
package("firmware", base_path="../..")
