import subprocess
import sys
import tomllib
from pathlib import Path

from testbed.cli.main import main


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    assert "run" in capsys.readouterr().out
    assert main(["--version"]) == 0
    version = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["version"]
    assert f"testbed {version}" in capsys.readouterr().out  # the one place the version is written
    for cmd in ("run", "report", "show", "export", "list"):
        assert main([cmd, "--help"]) == 0
        assert "usage: testbed " + cmd in capsys.readouterr().out


def test_list_names_models_and_sites(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("multiplier", "mlp", "bitflip", "stuck_at", "additive", "mac-gate", "product", "gate"):
        assert word in out


def test_bad_subcommand_exits_2_with_one_line():
    proc = subprocess.run([sys.executable, "-m", "testbed.cli", "frobnicate"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "invalid choice: 'frobnicate'" in proc.stderr and "Traceback" not in proc.stderr


def test_package_errors_become_one_line_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "testbed.cli", "run", str(tmp_path / "missing.toml"), "--out",
                           str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.toml" in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()
