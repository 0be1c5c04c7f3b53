# SPDM (DMTF DSP0274) for an endpoint that answers attestation: for now its crypto, ECDSA P-256
# signing with SHA-256 (mctp.spdm.ecdsa). A part of its own, so a board that does not answer
# SPDM does not carry it.
metadata(description="SPDM over MCTP: ECDSA P-256 signing (RFC 6979 nonces).", version="0.1.0")

package("mctp/spdm", base_path="../..")
