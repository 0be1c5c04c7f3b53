# The stack's settings (mctp.config): unknown and out-of-range settings are refused.

from testing import raises

from mctp.config import Config


def test_config_refuses_unknown_and_bad_settings():
    with raises(TypeError):
        Config(reassembly_slot=4)
    with raises(ValueError):
        Config(max_payload=1024)
    with raises(ValueError):
        Config(listeners=0)
    assert Config(flows=4).flows == 4
    assert Config().flows == 16
