"""Numba's cache files run no one else's code (issue 21, item 2): Numba unpickles *.nbi and *.nbc files, so a
kernel cache or NUMBA_CACHE_DIR that others can write is not used (a private temporary folder replaces it, with
one warning line); a payload planted there never runs. Driven through the command line."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest

from tests.hostile import TINY_SUITE, cli


class _Payload:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _env(cache: Path, numba: Path) -> dict:
    return {"TESTBED_CACHE": str(cache), "NUMBA_CACHE_DIR": str(numba), "PYTHONWARNINGS": ""}


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> tuple[Path, Path]:
    """A private kernel cache and Numba cache folder after one run of the tiny suite."""
    root = tmp_path_factory.mktemp("filled")
    (root / "s.toml").write_text(TINY_SUITE)
    cache, numba = root / "cache", root / "numba"
    result = cli("run", "s.toml", "--out", "run", "--workers", "1", "--no-report", cwd=root, env=_env(cache, numba))
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr[-2000:]
    assert list(numba.rglob("*.nbi")), "the run cached nothing to plant payloads in"
    return cache, numba


def test_a_shared_cache_with_planted_numba_files_runs_no_payload(filled, tmp_path):
    cache, numba = tmp_path / "cache", tmp_path / "numba"
    shutil.copytree(filled[0], cache)
    shutil.copytree(filled[1], numba)
    marker = tmp_path / "PWNED"
    planted = [*cache.rglob("*.nb[ic]"), *numba.rglob("*.nb[ic]")]
    assert planted
    for f in planted:
        f.write_bytes(pickle.dumps(_Payload(marker)))
    for folder in (cache, numba, *[p for p in [*cache.rglob("*"), *numba.rglob("*")] if p.is_dir()]):
        os.chmod(folder, 0o777)  # a cache everyone can write
    (tmp_path / "s.toml").write_text(TINY_SUITE)
    result = cli("run", "s.toml", "--out", "run", "--workers", "1", "--no-report", cwd=tmp_path,
                 env=_env(cache, numba))
    assert not marker.exists(), "a planted Numba cache file ran"
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings and all("not private" in line for line in warnings), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
