"""The digital-versus-neural robustness testbed: noise models, systems, the comparator, campaigns, CLI."""

from importlib.metadata import PackageNotFoundError, version

from testbed.errors import NoiseError, StoreError, SuiteError, TestbedError

try:
    __version__ = version("nn-vs-digital-testbed")  # the one place the version is written: pyproject.toml
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["NoiseError", "StoreError", "SuiteError", "TestbedError", "__version__"]
