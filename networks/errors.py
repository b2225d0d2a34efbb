"""The one exception type of the networks package."""


class NetworkError(ValueError):
    """A model, data set, quantization or engine request is malformed; the message names the layer or parameter."""
