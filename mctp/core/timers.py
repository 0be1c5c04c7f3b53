# The stack's timers (reassembly, tags, reply routes, pending receives) are checked when it is
# polled; a task that sleeps between polls asks each table how long until its next one is due.
# A wait is milliseconds, 0 when overdue, and -1 when nothing waits.


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
