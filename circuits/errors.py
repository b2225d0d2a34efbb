"""The one exception type of the circuits package."""


class NetlistError(ValueError):
    """A netlist, a netlist file or a simulation request is malformed.

    The message names the gate, net, port, file or field at fault.
    """
