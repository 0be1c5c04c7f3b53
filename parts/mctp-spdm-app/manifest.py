# The firmware's SPDM service (firmware/spdm.py, SPDM_FOLDER in board_config.py): the endpoint
# answering attestation with mctp-spdm's responder. Apart from mctp-endpoint, so that an
# endpoint's image does not carry what it never imports.
metadata(description="MCTP endpoint's SPDM service for boards.", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-endpoint", library="mctp-parts")
require("mctp-spdm", library="mctp-parts")

package("firmware", files=("spdm.py",), base_path="../..", opt=3)
