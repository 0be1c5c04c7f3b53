# The MCTP endpoint image: the port's default frozen modules, then the mctp package and the
# endpoint firmware from the repository root, then this board's configuration and main.py.
include("$(PORT_DIR)/boards/manifest.py")

package("mctp", base_path="$(BOARD_DIR)/../..")
package("firmware", base_path="$(BOARD_DIR)/../..")

module("board_config.py", base_path="$(BOARD_DIR)")
module("main.py", base_path="$(BOARD_DIR)")
