"""The one exception type of the hardware room."""

from circuits import NetlistError


class HardwareError(NetlistError):
    """A multiplier, processing element or fault request is malformed; the message names the part, bus or
    parameter. A kind of circuits.NetlistError: the hardware room is circuits put in a network's loop."""
