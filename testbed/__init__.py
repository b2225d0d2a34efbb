"""The digital-versus-neural robustness testbed: noise models, systems, the comparator, campaigns, CLI."""

from testbed.errors import NoiseError, StoreError, SuiteError, TestbedError

__version__ = "0.1.0"

__all__ = ["NoiseError", "StoreError", "SuiteError", "TestbedError", "__version__"]
