# The mctp library for boards: the core stack, the I2C and serial bindings, the control responder,
# the requester and bus owner, the bridge's forwarding, the asyncio layer, the IPC stream, SPDM's
# signing, a board's capture, the invariants' check. Each is a part of its own (parts/*/manifest.py); the endpoint application is
# parts/mctp-endpoint (with its bridge mode and SPDM service, parts/mctp-bridge-app and
# parts/mctp-spdm-app), the host buses parts/mctp-host (never for a board).
metadata(
    description="MCTP (DMTF DSP0236) stack: application API, server, core, control and bindings.",
    version="0.1.0",
    license="MIT",
)

add_library("mctp-parts", "parts")
for part in (
    "mctp-core",
    "mctp-i2c",
    "mctp-serial",
    "mctp-fcs",
    "mctp-control",
    "mctp-bus-owner",
    "mctp-bridge",
    "mctp-aio",
    "mctp-ipc",
    "mctp-spdm",
    "mctp-capture",
    "mctp-audit",
):
    require(part, library="mctp-parts")
