# SPDM (DMTF DSP0274) over MCTP, part mctp-spdm: for now the crypto a responder signs with,
# ECDSA P-256 with SHA-256 and RFC 6979 nonces (ecdsa: sign, Signer, public_key, raw, der).

from .ecdsa import Signer, der, public_key, raw, sign

__all__ = ("Signer", "der", "public_key", "raw", "sign")
