"""Helpers of the hostile-input tests: run the command line as a user would and check what it left behind.

`cli` is the one place that names the command line's module; `refused` checks the contract for bad input (the
documented exit status, one line on stderr naming the culprit, no traceback); `tree` snapshots a folder so a
test can assert that nothing outside the results folder was created, changed or removed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI_MODULE = "testbed.cli"
TINY_SUITE = """
[suite]
name = "tiny"
[defaults]
max_trials = 2
refine = 0
budget = 0
[systems.mul3]
kind = "circuit"
circuit = "multiplier"
width = 3
[[sweeps]]
name = "flips"
noise = "bitflip"
levels = [1e-3, 1e-1]
sites = {mul3 = "gate"}
"""


def cli(*args, cwd: Path, env: dict | None = None, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """`python -m cli ARGS` run from `cwd` with this checkout first on the path (stdout and stderr as text;
    `kw` goes to subprocess.run, e.g. stdin or preexec_fn)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", CLI_MODULE, *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, **kw)


def refused(result: subprocess.CompletedProcess, *needles: str, status: int = 2) -> str:
    """Assert the documented status, one stderr line containing every needle, and no traceback; return it."""
    err = result.stderr
    assert result.returncode == status, (result.returncode, err[-2000:])
    assert "Traceback" not in err and err.count("\n") == 1, err[-2000:]
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def tree(root: Path) -> dict[str, str]:
    """Every path under `root` (symlinks not followed) with a digest of its content or link target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = "link:" + os.readlink(path)
            elif path.is_file():
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[rel] = "dir"
    return out


def finished_tiny_run(work: Path) -> Path:
    """Run TINY_SUITE to completion in the folder work; return its results folder."""
    (work / "s.toml").write_text(TINY_SUITE)
    result = cli("run", "s.toml", "--out", "run", "--workers", "1", cwd=work)
    assert result.returncode == 0, result.stderr[-2000:]
    return work / "run"


def model_suite(name: str, data: str | None = None) -> str:
    """A suite of one user model m.pt2 (on data when given) under additive noise at its products."""
    data_line = f'data = "{data}"\n' if data else ""
    return f"""
[suite]
name = "{name}"
[defaults]
max_trials = 2
budget = 0
refine = 0
[systems.net]
kind = "network"
model = "m.pt2"
{data_line}[[sweeps]]
name = "products"
noise = "additive"
levels = [4.0, 12.0]
sites = {{net = "product"}}
"""
