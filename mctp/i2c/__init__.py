# The SMBus/I2C binding (DSP0237): link (I2CLink over machine.I2C + machine.I2CTarget, and
# a memory-mode target with `mem`), ring (the receive ring's per-frame work, both ends),
# smbus (the frame codec), pec (its CRC-8) and neighbours (EID to address, learned); ring, pec
# and the frame codec have viper versions for MicroPython.

# The leaves first ([flat-imports]).
from . import neighbours, pec, ring, smbus  # noqa: F401
from .ring import (
    IRQ_ADDR_MATCH_READ,
    IRQ_ADDR_MATCH_WRITE,
    IRQ_END_READ,
    IRQ_END_WRITE,
    IRQ_READ_REQ,
    IRQ_WRITE_REQ,
)
from .link import DEFAULT_RING, MEM_SIZE, I2CLink
