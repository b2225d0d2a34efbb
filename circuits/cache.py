"""The verified disk cache of generated kernels (and of trained models, networks.train).

Generated source is imported from a cache folder so that Numba's `@njit(cache=True)` keeps the machine code for
later processes. The cache is verified, never trusted: a kernel file is named by the hash of its source and ends
with a `# sha256 ...` line; one that does not hold exactly the generated source is rebuilt, and Numba's cache
files (*.nbi, *.nbc) that cannot be read back are deleted before first use, each with a one-line CacheWarning.
An unusable cache folder gives way to a temporary one for the rest of the process (with a warning).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

GENERATOR_VERSION = "6"  # part of every generated module's name: a change renames (rebuilds) them all


class CacheWarning(UserWarning):
    """A cached kernel or model was unusable (rebuilt), or the cache folder was (a temporary one is used)."""


_fallbacks: dict[Path, Path] = {}  # configured cache folder -> temporary folder used instead in this process


def cache_root() -> Path:
    """$TESTBED_CACHE, else ~/.cache/nn-vs-digital-testbed (kernels/ and models/ live below it)."""
    return Path(os.environ.get("TESTBED_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                  "nn-vs-digital-testbed"))


def usable_dir(path: Path) -> Path:
    """`path`, created if needed; a temporary folder instead (one warning per process) when it cannot be."""
    if path in _fallbacks:
        return _fallbacks[path]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return fall_back(path, exc)
    return path


def fall_back(path: Path, exc: BaseException) -> Path:
    """The temporary folder that replaces the unusable cache folder `path` for the rest of the process."""
    if path not in _fallbacks:
        tmp = Path(tempfile.mkdtemp(prefix=f"testbed-{path.name}-"))
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        _fallbacks[path] = tmp
        reason = getattr(exc, "strerror", None) or f"{type(exc).__name__}: {exc}"
        warn(f"cache folder {path} is unusable ({reason}); using {tmp} for this process")
    return _fallbacks[path]


def warn(message: str) -> None:
    """One line about the cache on stderr (a CacheWarning)."""
    warnings.warn(" ".join(message.split()), CacheWarning, stacklevel=3)


def cache_dir() -> Path:
    """Where generated kernels live: cache_root()/kernels (a temporary folder when that is unusable or others
    can write it: its files are imported)."""
    from circuits.jitcache import private_dir

    return private_dir(usable_dir(cache_root() / "kernels"))


def write_atomically(path: Path, data: bytes) -> Path:
    """Write `data` to `path` (mode 0644) through a temporary file, into the fallback folder when path's
    folder is unwritable. Returns the path written."""
    folder = usable_dir(path.parent)
    try:
        return _write(folder / path.name, data)
    except OSError as exc:
        if folder in _fallbacks.values():
            raise
        return _write(fall_back(path.parent, exc) / path.name, data)


def write_verified(path: Path, data: bytes) -> Path:
    """write_atomically `data`, and beside it (NAME.sha256) its SHA-256: the check every cached artifact (trained
    models, error models) passes before use. Returns the path written."""
    path = write_atomically(path, data)
    write_atomically(path.with_name(path.name + ".sha256"), (hashlib.sha256(data).hexdigest() + "\n").encode())
    return path


def read_verified(path: Path, what: str, redo: str) -> bytes | None:
    """The bytes of the cached artifact at `path` when they match the SHA-256 beside it (write_verified); None when
    there is no file, or, with a one-line warning ("cached WHAT PATH ...; REDO"), when it is unreadable, has no
    checksum or fails it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        warn(f"cached {what} {path} is unreadable ({exc.strerror or exc}); {redo}")
        return None
    try:
        expected = path.with_name(path.name + ".sha256").read_text().strip()
    except (OSError, UnicodeDecodeError):
        expected = None
    if expected != hashlib.sha256(data).hexdigest():
        why = "has no checksum file" if expected is None else "fails verification (sha256 mismatch)"
        warn(f"cached {what} {path} {why}; {redo}")
        return None
    return data


def _write(path: Path, data: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def verify_numba_cache(namespace: dict, where) -> None:
    """Read back the Numba cache files of every cached dispatcher in `namespace` (a module's globals) before
    first use, as Numba would. Unreadable ones (truncated, garbage, wrong format) are deleted, with a warning,
    so Numba compiles afresh; where they cannot be deleted, caching is turned off for that function."""
    for obj in list(namespace.values()):
        cache = getattr(obj, "_cache", None)
        cfile = getattr(cache, "_cache_file", None)
        if cfile is None or not hasattr(cfile, "_load_index") or not hasattr(cfile, "_load_data"):
            continue
        try:
            for data_name in cfile._load_index().values():
                try:
                    cfile._load_data(data_name)
                except FileNotFoundError:
                    pass  # Numba compiles a missing entry afresh
        except Exception as exc:  # anything Numba would fail on when loading this function's cache
            folder = Path(cache._cache_path)
            base = cfile._index_name.removesuffix(".nbi")
            try:
                for f in folder.iterdir():
                    if f.name == cfile._index_name or (f.name.startswith(base + ".") and f.name.endswith(".nbc")):
                        f.unlink()
                done = "deleted"
            except OSError:
                cache.disable()
                done = "cannot be deleted; compiling without a cache"
            warn(f"{where}: Numba cache of {obj.__name__} in {folder} is unreadable ({type(exc).__name__}); {done}")


def module_name(source: str, stem: str) -> str:
    """The content-hashed module name of generated source (its file in the cache folder is NAME.py)."""
    return f"_tb_{stem}_{hashlib.sha256((GENERATOR_VERSION + source).encode()).hexdigest()[:16]}"


def load_source(source: str, stem: str, names: tuple[str, ...]):
    """Import generated `source` from the cache folder, writing it first (atomically) unless the file there
    holds exactly this source (verified: name and last line carry its hash); anything else is rebuilt."""
    modname = module_name(source, stem)
    if modname in sys.modules:
        return sys.modules[modname]
    text = (source + f"# sha256 {hashlib.sha256(source.encode()).hexdigest()}\n").encode()
    path = cache_dir() / f"{modname}.py"
    problem = _mismatch(path, text)
    if problem:
        if problem != "missing":
            warn(f"cached kernel {path} {problem}; rebuilding it")
        path = write_atomically(path, text)
    try:
        module = _import(modname, path, names)
    except Exception as exc:  # verified source that does not import here: Numba cannot cache in this folder
        if path.parent in _fallbacks.values():
            raise
        module = _import(modname, _write(fall_back(path.parent, exc) / path.name, text), names)
    return module


def _mismatch(path: Path, text: bytes) -> str | None:
    """None when `path` holds exactly `text`; else what is wrong with it ("missing" when absent)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"is unreadable ({exc.strerror or exc})"
    if data == text:
        return None
    if not data:
        return "is empty"
    return f"fails verification (sha256 mismatch; {len(data)} bytes, expected {len(text)})"


def _import(modname: str, path: Path, names: tuple[str, ...]):
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
        missing = [n for n in names if not callable(getattr(module, n, None))]
        if missing:
            raise ImportError(f"{path} lacks {', '.join(missing)}")
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    verify_numba_cache(vars(module), path)
    return module
