# SPDM (DMTF DSP0274 1.2) over MCTP, part mctp-spdm: the crypto a responder signs with (ecdsa:
# ECDSA P-256 with SHA-256 and RFC 6979 nonces), the message codes (messages), the certificate
# chain (certs), the measurements (measurements), and the responder (responder.Responder).
# The leaves first ([flat-imports]).

from . import ecdsa, messages  # noqa: I001 (leaves before the modules that use them)
from . import certs, measurements
from . import responder
from .ecdsa import Signer, der, public_key, raw, sign

__all__ = (
    "Signer",
    "certs",
    "der",
    "ecdsa",
    "measurements",
    "messages",
    "public_key",
    "raw",
    "responder",
    "sign",
)
