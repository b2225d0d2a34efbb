"""The results store: SQLite (WAL) in the output directory, one row per (sweep unit, level, trial).

Tables: meta (suite name, hash, code version, seed, creation time), suite (the suite text as run), results
(unit, level, trial, seed, status 'ok' | 'failed', the row as JSON, the traceback of a failure, time).
Every finished trial is one transaction. A directory holds one suite: opening it with a changed suite is
refused (StoreError) instead of mixing results; rerunning the same suite resumes it.

Creation is atomic (the database is built in a temporary file, then renamed into place; a store left
half-created by older code is detected and redone). A run holds its directory: `Store.create` takes an
exclusive lock on DIR/.lock for the life of the Store, so a second run on the same directory gets StoreError.
`Store.open` reads only (SQLite read-only mode; `immutable` for a directory it cannot write, through a
private copy when a write-ahead log is left over), so archives can be exported and reported.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

from testbed import __version__
from testbed.errors import StoreError
from testbed.escape import csv_cell
from testbed.files import UnsafePath, check_not_link

DB_NAME = "results.sqlite"
SUMMARY = "summary.json"  # written by testbed.summary at the end of a run
LOCK = ".lock"  # flock()ed by the run that holds the directory
_TMP_PREFIX = ".results-"  # temporary databases of an unfinished creation
META_KEYS = ("suite_name", "suite_hash", "seed", "code_version", "created")
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS suite (name TEXT NOT NULL, hash TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    unit TEXT NOT NULL, level REAL NOT NULL, trial INTEGER NOT NULL, seed INTEGER NOT NULL,
    status TEXT NOT NULL, row TEXT, error TEXT, seconds REAL, PRIMARY KEY (unit, level, trial));
"""


def code_version() -> str:
    """Package version plus the git commit of the checkout, when there is one."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+{commit}" if commit else __version__


class Store:
    """A results directory's store. Use `Store.create(dir, ...)` to run (locks the directory), `Store.open(dir)`
    to read."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock=None, db: Path | None = None):
        self.path, self.conn, self._lock = path, conn, lock
        self.db = db or path / DB_NAME

    @classmethod
    def open(cls, directory) -> Store:
        """Open an existing store for reading (read-only, also in a directory or file it cannot write)."""
        directory = Path(directory)
        db = _existing_db(directory)
        store = cls(directory, _connect_readonly(db), db=db)
        try:
            store._check()
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def create(cls, directory, suite_name: str, suite_hash: str, suite_text: str, seed: int) -> Store:
        """Open for writing, creating it; lock the directory; refuse a directory holding another suite's results."""
        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise StoreError(f"{directory} exists and is not a directory")
        if directory.exists():
            _check_ours(directory)  # reads only: nothing is touched in a folder that is not ours
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{directory}: cannot create the results directory ({exc.strerror or exc})") from None
        made_lock = not os.path.lexists(directory / LOCK)
        lock = _lock(directory)
        try:
            return cls._create_locked(directory, lock, suite_name, suite_hash, suite_text, seed)
        except BaseException:
            if made_lock:
                (directory / LOCK).unlink(missing_ok=True)
            lock.close()
            raise

    @classmethod
    def _create_locked(cls, directory: Path, lock, suite_name, suite_hash, suite_text, seed) -> Store:
        db = directory / DB_NAME
        if db.exists():
            store = cls(directory, _connect(db), lock, db)
            try:
                if store._half_created():
                    store.conn.close()
                    for f in (db, db.with_name(DB_NAME + "-wal"), db.with_name(DB_NAME + "-shm")):
                        f.unlink(missing_ok=True)
                    _remove_leftovers(directory)
                else:
                    store._check()
                    held = store.meta()
                    if held["suite_hash"] != suite_hash:
                        raise StoreError(f"{directory} holds results of suite {held['suite_name']!r} "
                                         f"(hash {held['suite_hash']}); this suite (hash {suite_hash}) differs: use "
                                         "another --out directory instead of mixing results")
                    _remove_leftovers(directory)
                    return store
            except BaseException:
                store.conn.close()
                raise
        else:
            _remove_leftovers(directory)
        meta = {"suite_name": suite_name, "suite_hash": suite_hash, "seed": str(seed),
                "code_version": code_version(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        try:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=_TMP_PREFIX, suffix=".sqlite")
            os.close(fd)
            try:
                conn = sqlite3.connect(tmp)
                try:
                    conn.executescript(SCHEMA)
                    with conn:
                        conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
                        conn.execute("INSERT INTO suite VALUES (?, ?, ?)", (suite_name, suite_hash, suite_text))
                finally:
                    conn.close()
                os.chmod(tmp, 0o644)
                os.replace(tmp, db)
            finally:
                Path(tmp).unlink(missing_ok=True)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{db}: cannot create the results store ({exc})") from None
        return cls(directory, _connect(db), lock, db)

    def _query(self, sql: str, params=()) -> list[tuple]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.db}: not a usable testbed results store ({exc})") from None

    def _half_created(self) -> bool:
        """Schema (or part of it) without meta rows and without results: an interrupted creation."""
        tables = {name for (name,) in self._query("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" in tables and self._query("SELECT count(*) FROM meta")[0][0]:
            return False
        return "results" not in tables or not self._query("SELECT count(*) FROM results")[0][0]

    def _check(self) -> None:
        """StoreError naming the file unless the tables are there and the meta rows complete."""
        self._query("SELECT count(*) FROM results")
        self._query("SELECT count(*) FROM suite")
        missing = [k for k in META_KEYS if k not in self.meta()]
        if missing:
            raise StoreError(f"{self.db}: incomplete or tampered results store (meta lacks {', '.join(missing)})")

    def meta(self) -> dict:
        return dict(self._query("SELECT key, value FROM meta"))

    def suite_text(self) -> str:
        rows = self._query("SELECT text FROM suite")
        return rows[0][0] if rows else ""

    def write(self, unit: str, level: float, trial: int, seed: int, row: dict | None, error: str | None = None,
              seconds: float = 0.0) -> None:
        """Store one finished trial (one transaction); a failure stores its traceback instead of a row."""
        try:
            with self.conn:
                self.conn.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                  (unit, float(level), int(trial), int(seed), "failed" if error else "ok",
                                   json.dumps(row) if row is not None else None, error, seconds))
        except sqlite3.Error as exc:  # a full disk, a file-size limit, a store gone read-only
            raise StoreError(f"{self.db}: cannot store a trial ({exc}); the trials stored so far are kept: free "
                             "the space and rerun to resume") from None

    def rows(self, status: str = "ok") -> list[tuple]:
        """(unit, level, trial, seed, row dict or None, error) of every stored trial with `status`."""
        out = []
        for u, lv, t, s, r, e in self._query("SELECT unit, level, trial, seed, row, error FROM results "
                                             "WHERE status = ? ORDER BY unit, level, trial", (status,)):
            try:
                row = json.loads(r) if r else None
            except (TypeError, ValueError) as exc:
                raise StoreError(f"{self.db}: the row of ({u}, {lv}, {t}) is not valid JSON ({exc})") from None
            if row is not None and not isinstance(row, dict):
                raise StoreError(f"{self.db}: the row of ({u}, {lv}, {t}) is not a JSON object")
            out.append((u, lv, t, s, row, e))
        return out

    def close(self) -> None:
        """Close the database (checkpointing its log) and release the directory."""
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _existing_db(directory: Path) -> Path:
    if not directory.exists():
        raise StoreError(f"{directory}: no such directory")
    if not directory.is_dir():
        raise StoreError(f"{directory}: not a directory")
    db = directory / DB_NAME
    if not db.is_file():
        raise StoreError(f"{directory}: no results store ({DB_NAME}) here; run a suite into it first")
    return db


def _connect(db: Path) -> sqlite3.Connection:
    """A read-write connection in WAL mode (StoreError when the file is no SQLite database)."""
    try:
        conn = sqlite3.connect(db, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{db}: not a testbed results store ({exc})") from None
    return conn


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def _connect_readonly(db: Path) -> sqlite3.Connection:
    """Read-only; `immutable` when the folder or file cannot be written (SQLite could not make its -shm file),
    and a copy in memory when a write-ahead log must be replayed first."""
    uri = db.resolve().as_uri() + "?mode=ro"
    wal = db.with_name(DB_NAME + "-wal")
    try:
        if _writable(db.parent) and _writable(db):
            return sqlite3.connect(uri, uri=True, timeout=30)
        if not (wal.is_file() and wal.stat().st_size):
            return sqlite3.connect(uri + "&immutable=1", uri=True, timeout=30)
        with tempfile.TemporaryDirectory(prefix="testbed-store-") as tmp:
            shutil.copyfile(db, Path(tmp) / DB_NAME)
            shutil.copyfile(wal, Path(tmp) / wal.name)
            copy = sqlite3.connect(Path(tmp) / DB_NAME)  # replays the log
            memory = sqlite3.connect(":memory:")
            try:
                copy.backup(memory)
            finally:
                copy.close()
            return memory
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"{db}: cannot open the results store for reading ({exc})") from None


_LEFTOVER = re.compile(re.escape(_TMP_PREFIX) + r"\w+\.sqlite(-journal|-wal|-shm)?\Z")  # mkstemp names, SQLite sidecars
_OWN_FILES = (LOCK, DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm")


def _check_ours(directory: Path) -> None:
    """StoreError unless `directory` holds a results store (its files regular ones, no symlinks, and the
    database an SQLite file) or nothing but the lock and leftovers of an interrupted creation."""
    try:
        for name in _OWN_FILES:
            check_not_link(directory / name)
        names = [p.name for p in directory.iterdir()]
        if DB_NAME in names:
            with open(directory / DB_NAME, "rb") as fh:
                header = fh.read(16)
            if header and header != b"SQLite format 3\0":
                raise StoreError(f"{directory / DB_NAME}: not a testbed results store (not an SQLite file)")
            return
    except OSError as exc:
        raise StoreError(f"{directory}: {exc.strerror or exc}" if not isinstance(exc, UnsafePath) else str(exc)) \
            from None
    if any(n != LOCK and not _LEFTOVER.match(n) for n in names):
        raise StoreError(f"{directory} exists and is not a testbed results directory; choose an empty one")


def _remove_leftovers(directory: Path) -> None:
    """Delete the temporary databases of an interrupted creation (called under the directory's lock)."""
    for leftover in directory.iterdir():
        if _LEFTOVER.match(leftover.name):
            leftover.unlink(missing_ok=True)


def _lock(directory: Path):
    """The open, exclusively flock()ed DIR/.lock (holding our pid); StoreError when another run holds it.
    The lock file is opened without following a symlink and truncated only once the lock is ours."""
    path = directory / LOCK
    try:
        fh = open(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644), "r+")
        check_not_link(path)
    except OSError as exc:
        raise StoreError(f"{path}: cannot use it as the run's lock ({exc.strerror or exc})") from None
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = fh.read().strip() or "unknown"
        fh.close()
        raise StoreError(f"{directory} is in use by another testbed run (pid {holder})") from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


def json_safe(value):
    """Non-finite floats as the strings "inf" / "-inf" (NaN as null) and numpy scalars as Python ones, so the
    document is valid JSON."""
    if hasattr(value, "item") and not isinstance(value, (dict, list, tuple, str)):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def export(directory, fmt: str, stream) -> None:
    """Write every stored trial as CSV (row fields flattened to JSON text) or as a JSON document."""
    if fmt not in ("csv", "json"):
        raise StoreError(f"export format must be csv or json, not {fmt!r}")
    store = Store.open(directory)
    try:
        rows = store.rows("ok") + store.rows("failed")
        meta, suite = store.meta(), store.suite_text()
    finally:
        store.close()
    if fmt == "json":
        doc = {"meta": meta, "suite": suite,
               "results": [{"unit": u, "level": lv, "trial": t, "seed": s, "row": r, "error": e}
                           for u, lv, t, s, r, e in rows]}
        json.dump(json_safe(doc), stream, indent=1, allow_nan=False)
        stream.write("\n")
        return
    keys = sorted({k for *_, r, _e in rows if r for k in r})
    writer = csv.writer(stream)
    writer.writerow([csv_cell(c) for c in ("unit", "level", "trial", "seed", "status", *keys, "error")])
    for u, lv, t, s, r, e in rows:
        writer.writerow([csv_cell(c) for c in (u, repr(lv), t, s, "failed" if e else "ok",
                                               *[json.dumps(r.get(k)) if r else "" for k in keys], e or "")])


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON (testbed writes non-finite numbers as strings)")


def read_summary(directory) -> dict:
    """The summary.json of a finished run (StoreError when there is none: no directory, no run, unfinished)."""
    directory = Path(directory)
    path = directory / SUMMARY
    if not path.is_file():
        _existing_db(directory)  # no such directory, not a directory, no results store
        raise StoreError(f"{directory}: no {SUMMARY}; the run is unfinished (rerun `testbed run` to resume it)")
    try:
        summary = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise StoreError(f"{path}: unreadable ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not (isinstance(summary, dict) and isinstance(summary.get("sweeps"), list)
            and all(isinstance(sw, dict) and isinstance(sw.get("units"), list) for sw in summary["sweeps"])):
        raise StoreError(f"{path}: not a testbed summary (no list of sweeps with their units)")
    return summary
