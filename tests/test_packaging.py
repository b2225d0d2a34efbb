"""The package behaves in other people's environments: its wheel installs only the project's top-level names,
and in a fresh venv without Hypothesis an unrelated pytest run works, with and without the opt-in plugin.

Offline: the wheel is built without build isolation and installed without an index; the venv borrows the
installed packages of this interpreter (pytest, numpy, numba, ...) through a .pth file that names a folder of links
to them: every one but Hypothesis and this project itself.
"""

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("testbed", "circuits", "networks", "reports")
OPTIONAL_PACKAGES = ("hardware",)  # the hardware room, where it exists
NOT_BORROWED = ("hypothesis", "_hypothesis", "__editable__", "nn_vs_digital_testbed", "__pycache__")
UNRELATED_TEST = "def test_arithmetic():\n    assert 6 * 7 == 42\n"
FIXTURE_TEST = "def test_fixture(fault_context):\n    assert fault_context.seed >= 0\n"


def _run(cmd, cwd, **kwargs):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=300, **kwargs)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout[-1500:]}\n{proc.stderr[-1500:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in PACKAGES + OPTIONAL_PACKAGES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", src / "tests", ignore=shutil.ignore_patterns("__pycache__"))  # not installed
    shutil.copytree(ROOT / "bench", src / "bench", ignore=shutil.ignore_patterns("__pycache__"))  # not installed
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w",
          str(dist), str(src)], cwd=src)
    return next(dist.glob("*.whl"))


def test_the_wheel_installs_only_the_project_packages(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry_points = next(z.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert set(PACKAGES) <= tops <= set(PACKAGES + OPTIONAL_PACKAGES), tops
    assert "testbed/cli/main.py" in names
    assert "testbed = testbed.cli.main:main" in entry_points and "pytest11" not in entry_points


def test_a_fresh_venv_without_hypothesis_runs_an_unrelated_pytest_file(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          "--no-compile", str(wheel)], cwd=tmp_path)
    borrowed = tmp_path / "borrowed"
    borrowed.mkdir()
    for path in Path(site.getsitepackages()[0]).iterdir():
        if not path.name.startswith(NOT_BORROWED) and path.suffix != ".pth":
            (borrowed / path.name).symlink_to(path)
    venv_site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          cwd=tmp_path).strip())
    (venv_site / "borrowed.pth").write_text(f"{borrowed}\n")
    probe = "import importlib.util as u; print(u.find_spec('hypothesis') is None, u.find_spec('cli') is None)"
    assert _run([str(python), "-c", probe], cwd=tmp_path).split() == ["True", "True"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "test_other.py").write_text(UNRELATED_TEST)
    assert "1 passed" in _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "."], cwd=other)
    (other / "test_fixture.py").write_text(FIXTURE_TEST)
    out = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "testbed.pytest_plugin", "."],
               cwd=other)
    assert "2 passed" in out
    assert _run([str(venv / "bin" / "testbed"), "--version"], cwd=other).startswith("testbed ")
