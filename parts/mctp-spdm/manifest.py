# SPDM (DMTF DSP0274 1.2) for an endpoint that answers attestation: ECDSA P-256 signing with
# SHA-256 (mctp.spdm.ecdsa), the message codes (messages), the certificate chain (certs), the
# measurements (measurements) and the responder's state machine and transcripts (responder). A
# part of its own, so a board that does not answer SPDM does not carry it; the endpoint's
# service (firmware/spdm.py, in mctp-endpoint) imports it only when SPDM is on.
metadata(
    description="SPDM over MCTP: a responder (SPDM 1.2, 1.1) with ECDSA P-256 signing.",
    version="0.1.0",
)

add_library("mctp-parts", "..")
require("mctp-core", library="mctp-parts")

package("mctp/spdm", base_path="../..", opt=3)
