# The neighbour table (mctp.i2c.neighbours): EIDs learned from packets and configured, used for
# routes without an address, the oldest learned entry replaced first.

from endpoints import i2c_network
from testing import raises

from mctp import MctpError


def test_neighbours_learned_configured_and_used_for_routes_without_an_address():
    a, b, c = i2c_network(3)
    listener = a.stack.listener(1)
    b.core.routes.remove(8)
    b.core.add_route(8, 254, b.link)  # no address: the link's neighbour table resolves it
    req = b.stack.req(8)
    with raises(MctpError):
        req.send(1, b"who is 8?")  # nothing learned or configured yet
    assert b.link.counters.no_neighbour == 1
    b.link.neighbours.set(8, 0x10)
    req.send(1, b"hello 8")
    _, _, resp = listener.recv()
    resp.send(b"hi")
    req.recv()
    assert a.link.neighbours.lookup(9) == 0x11  # a learned b from its frames
    c.stack.req(8).send(1, b"from c")
    a.server.poll()
    assert a.link.neighbours.lookup(10) == 0x12
    b.link.neighbours.learn(8, 0x55)
    assert b.link.neighbours.lookup(8) == 0x10  # configured entries are not overwritten


def test_neighbour_table_replaces_the_oldest_learned_entry():
    from mctp.i2c.neighbours import Neighbours  # noqa: PLC0415 (this test only)

    table = Neighbours(3)
    table.set(8, 0x10)
    table.learn(9, 0x11)
    table.learn(10, 0x12)
    table.learn(11, 0x13)  # full: replaces the oldest learned (9)
    assert [table.lookup(e) for e in (8, 9, 10, 11)] == [0x10, -1, 0x12, 0x13]
    table.forget(10)
    assert table.lookup(10) == -1
    assert sorted(table.entries()) == [(8, 0x10, True), (11, 0x13, False)]
