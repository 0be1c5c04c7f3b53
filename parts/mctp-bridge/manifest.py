# An MCTP bridge: the core's forwarding between its links (mctp.bridge.forward) and its control
# side (mctp.bridge.control: the EID pool, Allocate Endpoint IDs, Routing Information Update,
# Get Routing Table Entries). Not in the endpoint's image: an endpoint drops a packet for
# another EID and answers the bridge's commands ERROR_UNSUPPORTED_CMD. A bridge is the bus owner
# of its other links (mctp.control.pool), and shares the bridge commands' codes with the
# requester there (mctp.control.bridging). Its routing table entries name the medium of an
# I2C or serial link.
metadata(
    description="MCTP bridge: forwarding between links and the bridge's control commands.",
    version="0.1.0",
)

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")
require("mctp-i2c", library="mctp-parts")
require("mctp-serial", library="mctp-parts")
require("mctp-control", library="mctp-parts")
require("mctp-bus-owner", library="mctp-parts")

package("mctp/bridge", base_path="../..", opt=3)
