# The core's timers (mctp.core.timers): when the next one is due, reassembly's and a tag's.

from endpoints import FakeClock
from test_core import inject, make_core, packet


def test_until_timer_says_when_the_next_timer_is_due():
    from mctp.core.timers import sooner  # noqa: PLC0415

    assert (sooner(-1, -1), sooner(-1, 5), sooner(5, -1), sooner(7, 5), sooner(3, -2)) == (
        -1,
        5,
        5,
        5,
        3,
    )
    assert sooner(4, -3) == 4 and sooner(-1, -0) == 0
    clock = FakeClock(1000)
    core, _sink, link, _clock = make_core(clock=clock)
    assert core.until_timer(clock()) == -1  # nothing waits
    inject(core, link, packet(0x88 | 1, b"\x01" + bytes(10)))  # a message under way
    clock.advance(1000)
    assert core.until_timer(clock()) == 5000  # its reassembly times out after 6 s
    core.open_flow(9, owner=3)  # a tag expires 6 s after it was opened
    clock.advance(500)
    assert core.until_timer(clock()) == 4500
    clock.advance(5000)
    assert core.until_timer(clock()) == 0  # overdue: poll now
    core.poll()
    assert core.until_timer(clock()) == 500  # the tag's
    clock.advance(500)
    core.poll()
    assert core.until_timer(clock()) == -1
