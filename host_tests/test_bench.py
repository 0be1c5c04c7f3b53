# The bench's receive runs (tools/bench.py, timed in instructions by tools/ci/qemu/bench_m0.py):
# the I2C link's IRQ handler called once per event against a stand-in target, and the serial
# link's poll reading a stand-in UART, deliver every frame of the message each run, make
# exactly the calls a board's port makes, and allocate nothing a run.

import sys

from testing import IS_MICROPYTHON, raises

try:
    import bench
except ImportError:  # a host: tools/ is not on the path (the boards freeze bench.py)
    sys.path.insert(0, __file__.rpartition("host_tests")[0] + "tools")
    import bench

    sys.path.pop(0)

from mctp.host.i2c_sim import TargetSim
from mctp.i2c import IRQ_END_WRITE
from mctp.i2c.ring import position


def _allocated(run):
    # Bytes MicroPython allocated during one more run (0 on CPython: no counter).
    if not IS_MICROPYTHON:
        return 0
    import micropython  # noqa: PLC0415

    run()
    before = micropython.mem_total()
    run()
    return micropython.mem_total() - before


class _Following:
    # Stands between the port and the link's handler: where the frame being written stood
    # after each event.
    def __init__(self, handler, link):
        self.handler = handler
        self.link = link
        self.positions = []

    def __call__(self, target):
        self.handler(target)
        self.positions.append(position(self.link._frame))


def test_i2c_frames_go_through_the_handler_once_per_event_and_all_arrive():
    for mem in (True, False):
        core, target, link, frames = bench.i2c_rx_setup(mem=mem)
        assert [len(frame) for frame in frames] == [72] * 16  # FIFO: five loads, then the end
        run = bench.irq_frames_run(bench.link_handler(target), frames, link.poll, core, target.mem)
        for rounds in (1, 2, 3):
            run()
            assert link.counters.rx_frames == 16 * rounds
            assert link.pending() == 0 and core.pool.in_use() == 0
        assert link.counters.irq_errors == 0
        assert _allocated(run) == 0


def test_a_memory_mode_target_stand_in_calls_the_handler_once_a_frame():
    core, target, link, frames = bench.i2c_rx_setup()
    calls = []

    def handler(stand_in):
        calls.append(bytes(target.mem[15 : 15 + 71]))
        bench.link_handler(target)(stand_in)

    bench.irq_frames_run(handler, frames[:2], link.poll, core, target.mem)()
    assert calls == [frames[0][1:], frames[1][1:]]  # the frame in memory at each END_WRITE
    assert link.counters.rx_frames == 2


def test_the_handler_reads_sixteen_bytes_an_event_then_ends_each_frame():
    core, target, link, frames = bench.i2c_rx_setup(mem=False)
    following = _Following(bench.link_handler(target), link)
    bench.irq_frames_run(following, frames[:2], link.poll, core)()
    each = [16, 32, 48, 64, 72, 0]  # five WRITE_REQs, the FIFO's bytes each; then END_WRITE
    assert following.positions == each + each
    assert link.counters.rx_frames == 2


def test_a_handler_that_does_not_read_frames_is_refused_in_words():
    target = TargetSim(0x10)
    target.irq(print, IRQ_END_WRITE)
    with raises(ValueError) as caught:
        bench.link_handler(target)
    assert str(caught.value) == "the link's handler must take WRITE_REQ and END_WRITE"


def test_serial_frames_all_arrive_from_the_stand_in_uart_each_run():
    run = bench.serial_rx_run()  # (it checks its first run's 16 frames and any()'s answers)
    run()
    run()
    assert _allocated(run) == 0


def test_the_control_answer_run_answers_each_request():
    run, answered = bench.control_answer_run()
    for count in (1, 2, 3):
        run()
        assert answered() == count
    assert _allocated(run) == 0


def test_the_bridge_echo_crosses_the_bridge_whole_each_run():
    echo = bench.BridgeEcho(bench.MAX_PAYLOAD_SIZE)  # 1023 bytes: 16 frames each way
    for rounds in (1, 2):
        echo.buf[:] = bytes(len(echo.buf))
        echo.run()
        assert bytes(echo.buf) == echo.request
        # 16 frames of the request one way and 16 of the answer the other, every run.
        assert echo.bridge.counters.fwd_packets == 32 * rounds
    counts = echo.bridge.counters.as_dict()
    assert [name for name, count in counts.items() if "fwd_" in name and count] == ["fwd_packets"]


def test_alternating_batches_time_each_run_as_often_and_answer_a_rate_each():
    calls = [0, 0]

    def first():
        calls[0] += 1

    def second():
        calls[1] += 1

    rates = bench.best_of_alternating((first, second), 5, 3)
    assert calls == [16, 16]  # a warm-up call each, then 3 batches of 5
    assert len(rates) == 2 and all(r > 0 for r in rates)
