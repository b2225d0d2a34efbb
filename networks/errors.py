"""The one exception type of the networks package (beneath the project's root, circuits.errors.TestbedError)."""

from circuits.errors import TestbedError


class NetworkError(TestbedError):
    """A model, data set, quantization or engine request is malformed; the message names the layer or parameter."""
