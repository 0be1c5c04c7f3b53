# Handle and RecvMetadata, the value types of the contract.

from testing import IS_MICROPYTHON, raises, skip

from mctp.api import Handle, MctpClient, RecvMetadata


def test_handle_holds_a_u32_and_compares_by_value():
    assert Handle(0).value == 0
    assert Handle(0xFFFFFFFF).value == 0xFFFFFFFF
    assert Handle(7) == Handle(7)
    assert Handle(7) != Handle(8)
    assert Handle(7) != 7
    assert hash(Handle(7)) == hash(Handle(7))
    assert repr(Handle(7)) == "Handle(7)"
    assert len({Handle(7), Handle(7), Handle(8)}) == 2


def test_handle_rejects_values_outside_u32():
    for bad in (-1, 1 << 32, None, "1"):
        with raises((ValueError, TypeError)):
            Handle(bad)


def test_recv_metadata_defaults_and_set_in_place():
    meta = RecvMetadata()
    assert (meta.msg_type, meta.msg_ic, meta.msg_tag, meta.remote_eid, meta.payload_size) == (
        0,
        False,
        0,
        0,
        0,
    )
    same = meta.set(1, True, 5, 42, 9)
    assert same is meta
    assert meta == RecvMetadata(msg_type=1, msg_ic=True, msg_tag=5, remote_eid=42, payload_size=9)
    assert meta != RecvMetadata(1, True, 5, 42, 10)
    assert repr(meta) == (
        "RecvMetadata(msg_type=1, msg_ic=True, msg_tag=5, remote_eid=42, payload_size=9)"
    )


def test_client_interface_methods_are_abstract():
    client = MctpClient()
    for call in (
        lambda: client.req(9),
        lambda: client.listener(1),
        client.get_eid,
        lambda: client.set_eid(9),
        lambda: client.recv(Handle(1), 0, bytearray(1), RecvMetadata()),
        lambda: client.send(None, 1, 9, 0, False, b""),
        lambda: client.drop_handle(Handle(1)),
    ):
        with raises(NotImplementedError):
            call()


def test_the_type_stubs_name_what_the_package_exports():
    if IS_MICROPYTHON:
        skip("reads mctp/__init__.pyi with CPython's ast")
    import ast  # noqa: PLC0415
    import os  # noqa: PLC0415

    import mctp  # noqa: PLC0415

    path = os.path.join(os.path.dirname(mctp.__file__), "__init__.pyi")
    with open(path) as f:
        tree = ast.parse(f.read())
    stubbed = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            stubbed.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            stubbed.add(node.target.id)
    exported = {
        name
        for name in dir(mctp)
        if not name.startswith("_") and not isinstance(getattr(mctp, name), type(mctp))
    }
    assert {name for name in stubbed if not name.startswith("_")} == exported
