# Named counters (mctp.counters), as every part keeps them and the REPL prints them.

from mctp.counters import Counters


def test_counters_count_by_name_total_reset_and_print_in_their_order():
    counters = Counters(("rx_frames", "bad_pec", "too_long"))
    assert counters.total() == 0 and counters.as_dict() == {
        "rx_frames": 0,
        "bad_pec": 0,
        "too_long": 0,
    }
    counters.rx_frames += 2
    counters.bump("bad_pec")
    counters.bump("bad_pec")
    assert (counters.rx_frames, counters.bad_pec, counters.total()) == (2, 2, 4)
    assert repr(counters) == "rx_frames=2 bad_pec=2 too_long=0"
    counters.reset()
    assert counters.total() == 0 and repr(counters) == "rx_frames=0 bad_pec=0 too_long=0"
