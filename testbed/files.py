"""Writing files in a results folder without clobbering: atomic replacement, no symlink followed.

`write_atomic` writes a file's whole content to a new temporary file beside it (created exclusively, so never
through a link) and renames it into place: a reader sees the old file or the new one, never a part, and a
failed write (full disk, file-size limit) leaves the old file whole and no temporary behind. `real_dir` makes
or checks a folder that is a directory itself, not a link to one elsewhere.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


class UnsafePath(OSError):
    """A path inside a results folder that is a symlink or not what it should be."""


def real_dir(path: Path, create: bool = True) -> Path:
    """`path` as a directory that is no symlink (created when missing and `create`); UnsafePath otherwise."""
    path = Path(path)
    if create and not os.path.lexists(path):
        path.mkdir()
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UnsafePath(f"{path}: not a directory of its own (a symlink or a file); refusing to write through it")
    return path


def check_not_link(path: Path) -> None:
    """UnsafePath when `path` exists as a symlink or as something other than a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePath(f"{path}: a symlink or special file where a regular file belongs; refusing to use it")


def write_atomic(path: Path, data: bytes | str, mode: int = 0o644) -> Path:
    """Replace `path` with `data` (str: UTF-8) atomically; the old file stays whole when anything fails.
    A symlink at `path` is replaced by the file, never written through."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_small_text(path: Path, limit: int) -> str:
    """The UTF-8 text of the regular file `path` (whatever the locale), of at most `limit` bytes. ValueError
    naming the reason for a FIFO, device or folder (never opened, so nothing hangs or streams forever), for a
    larger file, or for bytes that are not UTF-8; FileNotFoundError when it does not exist."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("not a regular file")
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start})") from None
