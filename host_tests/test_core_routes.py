# The route table (mctp.core.routes): lookup by EID range, the narrowest range first.

from testing import raises

from mctp.core.routes import RouteTable


def test_routes_pick_the_narrowest_range_and_replace_the_same_range():
    table = RouteTable(3)
    table.add(8, 200, "wide", 1)
    table.add(20, 30, "narrow", 2)
    assert table.lookup(25).link == "narrow"
    assert table.lookup(31).link == "wide"
    assert table.lookup(201) is None
    table.add(20, 30, "replaced", 3)
    assert table.lookup(25).phys == 3
    table.add(40, 40, "third")
    with raises(ValueError):
        table.add(50, 50, "fourth")
    assert table.remove(20, 30)
    assert not table.remove(20, 30)
    assert table.lookup(25).link == "wide"
    with raises(ValueError):
        table.add(30, 20, "backwards")
