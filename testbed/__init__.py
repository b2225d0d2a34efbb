"""The digital-versus-neural robustness testbed: noise models, systems, the comparator, campaigns, CLI."""

import sys
from importlib.metadata import PackageNotFoundError, version

from testbed.environment import environment_problem

if environment_problem():  # Numba (imported below, through circuits) would fail with a traceback
    sys.stderr.write(f"testbed: error: {environment_problem()}\n")
    raise SystemExit(2)

from testbed.errors import NoiseError, StoreError, SuiteError, TestbedError  # noqa: E402

try:
    __version__ = version("nn-vs-digital-testbed")  # the one place the version is written: pyproject.toml
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["NoiseError", "StoreError", "SuiteError", "TestbedError", "__version__"]
