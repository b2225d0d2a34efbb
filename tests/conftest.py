"""Shared fixtures: external tools are required under TESTBED_REQUIRE_TOOLS=1, skipped otherwise."""

import os
import shutil

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def require_tool(*names: str) -> None:
    """Skip the calling test when a tool is missing, unless TESTBED_REQUIRE_TOOLS=1 (then fail)."""
    missing = [n for n in names if shutil.which(n) is None]
    if not missing:
        return
    msg = f"{', '.join(missing)} not on PATH (Debian: apt-get install {' '.join(missing)})"
    if os.environ.get("TESTBED_REQUIRE_TOOLS") == "1":
        pytest.fail(msg + " but TESTBED_REQUIRE_TOOLS=1")
    pytest.skip(msg)


@pytest.fixture(autouse=True, scope="session")
def _kernel_cache(tmp_path_factory):
    """Keep generated kernels in the user's cache (shared across runs) unless TESTBED_CACHE is set."""
    yield
