# The control protocol's messages and the responder every endpoint needs.
metadata(
    description="MCTP control protocol: messages and the endpoint's responder.", version="0.1.0"
)

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")

package(
    "mctp/control",
    files=("__init__.py", "_answer_viper.py", "messages.py", "responder.py"),
    base_path="../..",
    opt=3,
)
