"""The error root of the whole project, and the one exception type of the circuits package.

TestbedError is the root of every bad-input error of testbed, circuits, networks and reports (each package's
own type derives from it), so the command line catches one type. It lives here, in the package that imports
nothing of ours, so that every other package can derive from it.
"""


class TestbedError(ValueError):
    """Bad input anywhere in the project; the message names the file, field, gate or value at fault."""

    __test__ = False  # not a pytest test class


class NetlistError(TestbedError):
    """A netlist, a netlist file or a simulation request is malformed.

    The message names the gate, net, port, file or field at fault.
    """
