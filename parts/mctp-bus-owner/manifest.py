# Asking other endpoints (ControlRequester) and setting them up as a bus owner (BusOwner), in
# blocking and asyncio forms (mctp.aio.control); a bridge's downstream bus owner, which gives
# the endpoints there EIDs from its pool (PoolOwner, mctp.control.pool); the bridge commands'
# codes (mctp.control.bridging), which the requester and the bridge (mctp-bridge) share.
metadata(description="MCTP control requester and bus owner.", version="0.1.0")

add_library("mctp-parts", "..")
require("mctp-control", library="mctp-parts")
require("mctp-aio", library="mctp-parts")

package(
    "mctp/control",
    files=("bridging.py", "requester.py", "bus_owner.py", "pool.py"),
    base_path="../..",
    opt=3,
)
package("mctp/aio", files=("control.py",), base_path="../..", opt=3)
