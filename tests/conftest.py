"""Shared helpers: external tools are required under TESTBED_REQUIRE_TOOLS=1, skipped otherwise.

The Hypothesis profile "testbed-ci" (bounded examples, no deadline, derandomized) comes from the project's
pytest plugin (testbed.pytest_plugin); HYPOTHESIS_PROFILE selects another.
"""

import contextlib
import io
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

import testbed.pytest_plugin  # noqa: F401 (registers the profile even when the entry point is not installed)

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "testbed-ci"))


def require_tool(*names: str) -> None:
    """Skip the calling test when a tool is missing, unless TESTBED_REQUIRE_TOOLS=1 (then fail)."""
    missing = [n for n in names if shutil.which(n) is None]
    if not missing:
        return
    msg = f"{', '.join(missing)} not on PATH (Debian: apt-get install {' '.join(missing)})"
    if os.environ.get("TESTBED_REQUIRE_TOOLS") == "1":
        pytest.fail(msg + " but TESTBED_REQUIRE_TOOLS=1")
    pytest.skip(msg)


def run_readme_example(section: str) -> str:
    """Run the first ```python block under the README heading `section` as written; return what it printed."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = readme.split(f"## {section}", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # noqa: S102 (the README's own example)
    return out.getvalue()
