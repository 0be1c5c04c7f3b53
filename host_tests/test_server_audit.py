# The audit of a running stack (mctp.server.audit, Server.check()): what it names. The tests and
# the fuzzer call it after every step; test_robustness.py has it name each thing out of place.

from endpoints import Wire, lone_server


def test_the_audit_names_a_broken_ipc_client_quota():
    server, _ = lone_server()
    client = Wire(server)
    client.listener(1)
    client.listener(2)
    assert server.check() == []
    server.core.config.client_listeners = 1  # as if the server had let one too many through
    assert server.check() == [
        "an IPC client holds 2 listener handles, over Config.client_listeners (1)"
    ]


def test_a_board_without_the_audit_part_is_told_which_to_add():
    from test_firmware_board import _without_module  # noqa: PLC0415
    from testing import raises  # noqa: PLC0415

    server, _ = lone_server()
    assert server.open_handles() == []  # show()'s, in the core part
    with _without_module("mctp.server.audit"):
        with raises(RuntimeError) as caught:
            server.check()
    assert str(caught.value).startswith("Server.check() needs the mctp-audit part (")
