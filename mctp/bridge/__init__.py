# An MCTP bridge (DSP0236 clause 9): a core that forwards packets between its links. forward
# (Forwarder: the packets for other EIDs, out over the link their route names) and control
# (BridgeResponder: the endpoint's control responder, plus the EID pool and the routing
# commands a bridge answers).

from .control import BridgeResponder
from .forward import FORWARD_BURST, FORWARD_DROPS, FORWARD_EVENTS, Forwarder

__all__ = ("FORWARD_BURST", "FORWARD_DROPS", "FORWARD_EVENTS", "BridgeResponder", "Forwarder")
