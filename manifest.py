metadata(
    description="MCTP (DMTF DSP0236) stack: application API, server, core, control and bindings.",
    version="0.1.0",
    license="MIT",
)

package("mctp")
