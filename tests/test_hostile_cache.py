"""A damaged or unusable kernel cache is rebuilt or replaced, with a warning: never used, never a traceback.

Each case runs in fresh processes (a process keeps what it loaded): one builds the 4x4 multiplier's kernels
in a private TESTBED_CACHE, the cache is damaged, then a second process must still compute every product
exactly (and the same flips with the compiled kernel as with the interpreter), and a third must find the
cache repaired (no warning).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import circuits as c
from circuits.cache import CacheWarning
from circuits.netlist import from_gates

ROOT = Path(__file__).resolve().parents[1]
CHECK = """
import numpy as np, circuits as c
net = c.multiplier(4)
a, b = np.divmod(np.arange(256), 16)
assert (c.simulate(net, a=a, b=b, engine="compiled")["p"] == a * b).all(), "wrong products"
f1 = c.simulate(net, a=a, b=b, engine="compiled", flip_p=0.02, seed=3)["p"]
f2 = c.simulate(net, a=a, b=b, engine="interpreter", flip_p=0.02, seed=3)["p"]
assert (f1 == f2).all() and (f1 != a * b).any(), "flip streams differ"
print("CHECKED")
"""


def _run(cache: Path, numba_cache: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONWARNINGS")}
    env["TESTBED_CACHE"] = str(cache)
    if numba_cache is not None:
        env["NUMBA_CACHE_DIR"] = str(numba_cache)
    return subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def _healthy(proc, warned: bool) -> bool:
    """The checking subprocess got every result right, printed no traceback, and warned about the cache
    exactly when `warned`."""
    return (proc.returncode == 0 and "CHECKED" in proc.stdout and "Traceback" not in proc.stderr
            and ("CacheWarning" in proc.stderr) == warned)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A kernel cache holding the 4x4 multiplier's kernels and the interpreter, with Numba's cache files."""
    cache = tmp_path_factory.mktemp("pristine")
    proc = _run(cache)
    assert _healthy(proc, warned=False), proc.stderr
    return cache


def _kernel_source(kernels: Path) -> Path:
    (src,) = [p for p in kernels.glob("_tb_k*.py")]
    return src


def _numba_files(kernels: Path, suffix: str) -> list[Path]:
    files = sorted((kernels / "__pycache__").glob(f"_tb_k*{suffix}"))
    assert files, f"no Numba {suffix} files to damage"
    return files


def _garbage(n: int) -> bytes:
    return np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()


def _truncate_280(k):
    src = _kernel_source(k)
    lines = src.read_text().splitlines(keepends=True)
    assert len(lines) > 280
    src.write_text("".join(lines[:280]))


DAMAGE = {
    "source cut to 280 lines": _truncate_280,
    "source garbage": lambda k: _kernel_source(k).write_bytes(_garbage(5000)),
    "source empty": lambda k: _kernel_source(k).write_bytes(b""),
    "source syntax error": lambda k: _kernel_source(k).write_text(_kernel_source(k).read_text() + "def (:\n"),
    "source lacks a function": lambda k: _kernel_source(k).write_text(
        _kernel_source(k).read_text().replace("def flip_parallel(", "def renamed(")),
    "numba index garbage": lambda k: [f.write_bytes(_garbage(300)) for f in _numba_files(k, ".nbi")],
    "numba index empty": lambda k: [f.write_bytes(b"") for f in _numba_files(k, ".nbi")],
    "numba data truncated": lambda k: [f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
                                       for f in _numba_files(k, ".nbc")],
    "numba data garbage": lambda k: [f.write_bytes(_garbage(2000)) for f in _numba_files(k, ".nbc")],
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_kernel_cache_is_rebuilt(tmp_path, pristine, damage):
    cache = tmp_path / "cache"
    shutil.copytree(pristine, cache)  # keeps modification times: Numba's index stays valid
    DAMAGE[damage](cache / "kernels")
    proc = _run(cache)
    assert _healthy(proc, warned=True), proc.stderr
    proc = _run(cache)
    assert _healthy(proc, warned=False), proc.stderr  # repaired on disk


def test_damaged_numba_cache_of_bitplanes_is_rebuilt(tmp_path):
    cache, numba_cache = tmp_path / "cache", tmp_path / "numba"
    proc = _run(cache, numba_cache)
    assert _healthy(proc, warned=False), proc.stderr
    files = [f for f in numba_cache.rglob("bitplanes.*.nb[ic]")]
    assert files
    for f in files:
        f.write_bytes(_garbage(700))
    proc = _run(cache, numba_cache)
    assert _healthy(proc, warned=True), proc.stderr
    proc = _run(cache, numba_cache)
    assert _healthy(proc, warned=False), proc.stderr


def test_unusable_cache_folder_falls_back_to_a_temporary_one(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = _run(blocker / "cache")
    assert _healthy(proc, warned=True), proc.stderr
    assert "is unusable" in proc.stderr and "using" in proc.stderr


@pytest.mark.parametrize("engine", ["auto", "interpreter", "compiled"])
def test_zero_gate_netlist_with_flips_passes_inputs_through(engine):
    wire = from_gates({"a": ["a0", "a1", "a2"]}, [], {"y": ["a0", "a1", "a2"]}, name="wire")
    assert wire.n_gates == 0
    a = np.arange(8)
    for p in (0.0, 0.01, 0.5):
        np.testing.assert_array_equal(c.simulate(wire, a=a, flip_p=p, engine=engine)["y"], a)


# Trained models: verified on load (sha256 beside the file), retrained with a warning when they fail.

TINY = dict(hidden=(4,), epochs=2, patience=1)


@pytest.fixture
def models(tmp_path, monkeypatch):
    """A private model cache and a counter of trainings."""
    import networks.train as train

    monkeypatch.setenv("TESTBED_CACHE", str(tmp_path / "cache"))
    calls = []
    real = train._train

    def counting(config, progress):
        calls.append(config)
        return real(config, progress)

    monkeypatch.setattr(train, "_train", counting)
    return train, calls


def _same(m1, m2) -> bool:
    s1, s2 = m1.state_dict(), m2.state_dict()
    return s1.keys() == s2.keys() and all(bool((s1[k] == s2[k]).all()) for k in s1)


def _quiet(fn):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        return fn()


def test_cached_model_is_reused_and_world_readable(models):
    train, calls = models
    config = train.ModelConfig(**TINY)
    m1, info1 = _quiet(lambda: train.trained_model(config, progress=False))
    m2, info2 = _quiet(lambda: train.trained_model(config, progress=False))
    assert len(calls) == 1 and info1 == info2 and _same(m1, m2)
    files = sorted(train.models_dir().iterdir())
    assert [f.suffix for f in files] == [".pt", ".sha256"]
    assert all(f.stat().st_mode & 0o777 == 0o644 for f in files)


def _other_model(train, pt):
    other = train.ModelConfig(**TINY, seed=1)
    train.trained_model(other, progress=False)
    pt.write_bytes((pt.parent / f"{other.key()}.pt").read_bytes())


MODEL_DAMAGE = {
    "truncated": lambda train, pt, sha: pt.write_bytes(pt.read_bytes()[:1000]),
    "garbage": lambda train, pt, sha: pt.write_bytes(_garbage(pt.stat().st_size)),
    "empty": lambda train, pt, sha: pt.write_bytes(b""),
    "checksum missing": lambda train, pt, sha: sha.unlink(),
    "another model's weights": lambda train, pt, sha: _other_model(train, pt),
    "garbage with a matching checksum": lambda train, pt, sha: (
        pt.write_bytes(b"garbage"), sha.write_text(__import__("hashlib").sha256(b"garbage").hexdigest())),
}


@pytest.mark.parametrize("damage", MODEL_DAMAGE)
def test_damaged_cached_model_is_retrained(models, damage):
    train, calls = models
    config = train.ModelConfig(**TINY)
    m1, info1 = train.trained_model(config, progress=False)
    pt = train.models_dir() / f"{config.key()}.pt"
    MODEL_DAMAGE[damage](train, pt, pt.with_name(pt.name + ".sha256"))
    n = len(calls)
    with pytest.warns(CacheWarning, match="retraining it"):
        m2, info2 = train.trained_model(config, progress=False)
    assert len(calls) == n + 1 and info1 == info2 and _same(m1, m2)
    m3, _ = _quiet(lambda: train.trained_model(config, progress=False))  # repaired
    assert len(calls) == n + 1 and _same(m1, m3)


def test_unusable_model_cache_falls_back_to_a_temporary_one(tmp_path, models, monkeypatch):
    train, calls = models
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TESTBED_CACHE", str(blocker / "cache"))
    config = train.ModelConfig(**TINY)
    with pytest.warns(CacheWarning, match="is unusable"):
        train.trained_model(config, progress=False)
    _quiet(lambda: train.trained_model(config, progress=False))
    assert len(calls) == 1 and blocker.is_file()
