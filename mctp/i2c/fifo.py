# The I2C target's hard IRQ, the part that runs for every FIFO load: take(link, target) reads
# the IRQ's events, appends the bytes the target's FIFO holds (target.readinto(link._scratch),
# at most SCRATCH of them) to link._frame at link._pos, which moves on, and returns the events
# left for the link to handle (a frame's end, a read). link._pos becomes -1 once the frame has
# outgrown link._frame: the FIFO is still drained, so the target does not stall, and -1 stays
# -1 until the frame's end.
#
# One call per IRQ, which takes the link rather than its fields: on a Cortex-M0 each call and
# attribute read costs hundreds of instructions, an IRQ comes every few bytes, and the
# handler's frame, under its try, has no room for another local. Boards use the viper version;
# the pure-Python one gives the same results.

from .._compat import const
from ..bufcopy import copy_into

# machine.I2CTarget's IRQ flags.
IRQ_ADDR_MATCH_READ = const(1)
IRQ_ADDR_MATCH_WRITE = const(2)
IRQ_READ_REQ = const(4)
IRQ_WRITE_REQ = const(8)
IRQ_END_READ = const(16)
IRQ_END_WRITE = const(32)

SCRATCH = const(16)  # bytes one readinto takes: the depth of the rp2's and stm32's FIFOs, or more


def take_py(link, target):
    flags = target.irq().flags()
    if flags & IRQ_WRITE_REQ:
        count = min(target.readinto(link._scratch), SCRATCH)
        pos = link._pos
        if pos < 0 or pos + count > len(link._frame):
            link._pos = -1
        else:
            copy_into(link._frame, pos, link._scratch, 0, count)
            link._pos = pos + count
    return flags & (IRQ_END_WRITE | IRQ_READ_REQ)


try:
    from ._fifo_viper import take
except (ImportError, SyntaxError):
    take = take_py
