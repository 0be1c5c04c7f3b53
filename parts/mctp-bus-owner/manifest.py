# Asking other endpoints (ControlRequester) and setting them up as a bus owner (BusOwner).
metadata(description="MCTP control requester and bus owner.", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-control", library="mctp-parts")

package("mctp/control", files=("requester.py", "bus_owner.py"), base_path="../..")
