# A board's capture of the packets its links receive and send (mctp.capture: CAPTURE in
# board_config.py), which tools/mctp_trace.py --capture reads. A part of its own, so an endpoint
# that captures nothing does not carry it.
metadata(description="MCTP capture: a board's record of its links' packets.", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")

package("mctp", files=("capture.py",), base_path="../..", opt=3)
