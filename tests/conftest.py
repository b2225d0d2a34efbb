"""Shared helpers: external tools are required under TESTBED_REQUIRE_TOOLS=1, skipped otherwise.

The Hypothesis profile "testbed-ci" (bounded examples, no deadline, derandomized) is registered here;
HYPOTHESIS_PROFILE selects another. The project's pytest plugin (the `fault_context` fixture) is opted into here.
"""

import contextlib
import importlib
import io
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("testbed-ci", max_examples=50, deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "testbed-ci"))


def pytest_configure(config):
    """Opt in to the project's pytest plugin (once: an environment installed before the plugin became opt-in still
    loads it through its old entry point)."""
    plugin = importlib.import_module("testbed.pytest_plugin")
    if not config.pluginmanager.is_registered(plugin):
        config.pluginmanager.register(plugin, "testbed.pytest_plugin")


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
