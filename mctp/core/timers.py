# The stack's timers (reassembly, tags, reply routes, pending receives) are checked when it is
# polled; a task that sleeps between polls asks each table how long until its next one is due.
# A wait is milliseconds, 0 when overdue, and -1 when nothing waits.

from .._compat import ticks_diff

_len = len  # [builtin-global]


def due_in(period_ms, elapsed_ms):
    """The wait until a timer of `period_ms` started `elapsed_ms` ago is due (0: overdue)."""
    wait = period_ms - elapsed_ms
    return wait if wait > 0 else 0


def sooner(wait, other):
    """The shorter of two waits (-1: none), never below 0."""
    if other < 0:
        return wait
    if wait < 0 or other < wait:
        wait = other
    return wait if wait > 0 else 0


# until_expiry(entries, expiry_ms, now): the wait until the first of `entries` in use (each
# with `used` and `started`, in ticks) is `expiry_ms` old (0: overdue), or -1 when none is in
# use: a flow table's or a reply-route table's next expiry, asked at every wake of a stack task.
# One viper call on boards; until_expiry_py is its twin ([viper-twin]).


def until_expiry_py(entries, expiry_ms, now):
    soonest = -1
    i = 0
    while i < _len(entries):
        if entries[i].used:
            soonest = sooner(soonest, entry_due(entries[i], expiry_ms, now))
        i += 1
    return soonest


def entry_due(entry, period_ms, now):
    """The wait until `entry`, `started` at some ticks, is `period_ms` old (0: overdue)."""
    return due_in(period_ms, ticks_diff(now, entry.started))


try:
    from ._fastpath_viper import until_expiry
except (ImportError, SyntaxError):
    until_expiry = until_expiry_py
