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


# Suite fragments shared by tests (each names one trained model, so the model cache trains it once): a 4-bit
# gate-level multiplier with a 4-bit MLP that multiplies on it, and a float MLP.
MUL4 = """
[systems.mul4]
kind = "circuit"
circuit = "multiplier"
width = 4
"""
MLP_ON_MUL4 = """kind = "network"
dataset = "digits"
hidden = [16]
epochs = 60
weight_bits = 4
act_bits = 4
multiplier = "mul4"
"""
DIGITS_MLP = """
[systems.mlp]
kind = "network"
dataset = "digits"
hidden = [8]
epochs = 20
"""


def two_trials(name: str, seed: int) -> str:
    """A suite's [suite] table and [defaults] of two trials per level and no refinement."""
    return f'[suite]\nname = "{name}"\nseed = {seed}\n[defaults]\nmin_trials = 2\nmax_trials = 2\nrefine = 0\n'


def listing(capsys) -> str:
    """What `testbed list` prints (asserting it succeeds)."""
    from testbed.cli.main import main

    assert main(["list"]) == 0
    return capsys.readouterr().out


def refused(tmp_path: Path, capsys, text: str) -> str:
    """Run the suite `text` that must be refused: exit status 2 and nothing written; return what it printed to
    stderr."""
    from testbed.cli.main import main

    bad, out = tmp_path / "bad.toml", tmp_path / "bad"
    bad.write_text(text)
    assert main(["run", str(bad), "--out", str(out), "--workers", "1"]) == 2
    assert not out.exists()
    return capsys.readouterr().err


def run_suite_text(tmp_path: Path, text: str, *flags: str) -> Path:
    """Write the suite `text` and run it on one worker (asserting it succeeds); return the output folder."""
    from testbed.cli.main import main

    suite, out = tmp_path / "suite.toml", tmp_path / "run"
    suite.write_text(text)
    assert main(["run", str(suite), "--out", str(out), "--workers", "1", *flags]) == 0
    return out


def units_by_label(summary: dict) -> dict:
    """The units of a summary's only sweep, by label."""
    (sweep,) = summary["sweeps"]
    return {u["label"]: u for u in sweep["units"]}


def run_sweep(tmp_path: Path, text: str, noise: str, axis: str) -> tuple[Path, dict, dict]:
    """Run the suite `text` of one sweep (asserting that summary.json names its noise kind `noise` and its axis
    `axis`); return the output folder, the summary and the sweep's units by label."""
    from testbed.store import read_summary

    out = run_suite_text(tmp_path, text)
    summary = read_summary(out)
    assert (summary["sweeps"][0]["noise"], summary["sweeps"][0]["axis"]["label"]) == (noise, axis)
    return out, summary, units_by_label(summary)


def train_on_digits(build, steps: int):
    """The torch module `build()` (built after torch.manual_seed(0)) trained on digits' training set: full-batch
    Adam (lr 1e-2) on cross-entropy for `steps` steps; returned in eval mode."""
    import torch

    from networks import digits

    torch.manual_seed(0)
    model = build()
    ds = digits()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.tensor(ds.x_train, dtype=torch.float32), torch.tensor(ds.y_train)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()
