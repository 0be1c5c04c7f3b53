# An MCTP bridge: the core's forwarding between its links (mctp.bridge). Not in the endpoint's
# image: an endpoint drops a packet for another EID.
metadata(description="MCTP bridge: forwarding between links (DSP0236 clause 9).", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")

package("mctp/bridge", base_path="../..")
