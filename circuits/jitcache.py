"""Numba's disk cache, and the generated kernels' folder, used only where no one but this user can write.

Numba unpickles its cache files (*.nbi index, *.nbc code) when a cached function is first called, and Python
imports the generated kernels (and their *.pyc) from the kernel cache: whoever can write those folders runs
code in our process, so checksums kept beside them would prove nothing. `install()` (done when `circuits` is
imported, before any `@njit(cache=True)` function is defined) puts a locator in front of Numba's own: it asks
them where a function's cache would go and accepts that folder only when it is private (see `why_not_private`);
otherwise (or when no folder is writable at all: a read-only install and HOME) the function caches in a fresh
temporary folder (mode 0700) for the rest of the process, with one CacheWarning per folder. `private_dir`
holds the kernel cache folder to the same rule.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from numba.core import caching


def why_not_private(path) -> str | None:
    """None when `path` is a real directory owned by this user (or root) that neither group nor others can
    write, inside parents that only their owner (this user or root) can change, or that are sticky (/tmp);
    else the reason, in words."""
    uid = os.getuid()
    try:
        st = os.lstat(path)
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        return "it is a symlink or not a directory"
    if st.st_uid not in (uid, 0):
        return f"it is owned by another user (uid {st.st_uid})"
    if st.st_mode & 0o022:
        return "group or others can write it"
    for parent in Path(path).resolve().parents:
        pst = os.stat(parent)
        if pst.st_uid not in (uid, 0):
            return f"its parent {parent} is owned by another user (uid {pst.st_uid})"
        if pst.st_mode & 0o022 and not pst.st_mode & stat.S_ISVTX:
            return f"group or others can write its parent {parent}"
    return None


def private_dir(path: Path) -> Path:
    """`path` when it is private; else the private temporary folder that replaces it in this process."""
    from circuits.cache import fall_back

    reason = why_not_private(path)
    return path if reason is None else fall_back(path, PermissionError(0, f"not private: {reason}"))


NOWHERE = Path(os.path.expanduser("~")) / ".cache" / "numba"  # Numba's user-wide cache: the key of the one fallback


class _Fallback(caching.UserProvidedCacheLocator):
    """A function's cache in the private temporary folder that replaces a folder others can write."""

    def __init__(self, py_func, py_file, root: Path):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = os.path.join(root, self.get_suitable_cache_subpath(py_file))


class PrivateLocator:
    """Numba's choice of cache folder for a function, accepted only when it is private."""

    @classmethod
    def from_function(cls, py_func, py_file):
        if not os.path.exists(py_file):
            return None  # no source file (an interactive session): Numba's own locators decide
        for locator_cls in caching.CacheImpl._locator_classes:
            if locator_cls is cls:
                continue
            locator = locator_cls.from_function(py_func, py_file)
            if locator is not None:
                folder = Path(locator.get_cache_path())
                root = private_dir(folder)
                if root == folder:
                    return locator
                break
        else:  # nowhere writable (a read-only install and HOME): one temporary folder for the process
            from circuits.cache import fall_back

            root = fall_back(NOWHERE, PermissionError(0, "no writable folder for Numba's cache"))
        fallback = _Fallback(py_func, py_file, root)
        fallback.ensure_cache_path()
        return fallback


def install() -> None:
    """Put PrivateLocator first among Numba's cache locators (once)."""
    if PrivateLocator not in caching.CacheImpl._locator_classes:
        caching.CacheImpl._locator_classes.insert(0, PrivateLocator)


install()
