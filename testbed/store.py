"""The results store: SQLite (WAL) in the output directory, one row per (sweep unit, level, trial).

Tables: meta (suite name, hash, code version, seed, creation time), suite (the suite text as run), results
(unit, level, trial, seed, status 'ok' | 'failed', the row as JSON, the traceback of a failure, time).
Every finished trial is one transaction. A directory holds one suite: opening it with a changed suite is
refused (StoreError) instead of mixing results; rerunning the same suite resumes it.
"""

from __future__ import annotations

import csv
import json
import math
import sqlite3
import subprocess
import time
from pathlib import Path

from testbed import __version__
from testbed.errors import StoreError

DB_NAME = "results.sqlite"
SUMMARY = "summary.json"  # written by testbed.summary at the end of a run
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
    """A results directory's store. Use `Store.create(dir, suite)` to run, `Store.open(dir)` to read."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path, self.conn = path, conn

    @classmethod
    def open(cls, directory) -> Store:
        db = Path(directory) / DB_NAME
        if not db.is_file():
            raise StoreError(f"{directory}: no results store ({DB_NAME}) here; run a suite into it first")
        conn = sqlite3.connect(db, timeout=30)
        try:
            conn.execute("SELECT count(*) FROM results").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{db}: not a testbed results store ({exc})") from None
        return cls(Path(directory), conn)

    @classmethod
    def create(cls, directory, suite_name: str, suite_hash: str, suite_text: str, seed: int) -> Store:
        """Open for writing, creating it; refuse a directory holding another suite's results."""
        directory = Path(directory)
        db = directory / DB_NAME
        if db.exists():
            store = cls.open(directory)
            held = store.meta().get("suite_hash")
            if held != suite_hash:
                raise StoreError(f"{directory} holds results of suite {store.meta().get('suite_name')!r} "
                                 f"(hash {held}); this suite (hash {suite_hash}) differs: use another --out "
                                 "directory instead of mixing results")
            return store
        if directory.exists() and any(directory.iterdir()):
            raise StoreError(f"{directory} exists and is not a testbed results directory; choose an empty one")
        directory.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(db, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        with conn:
            meta = {"suite_name": suite_name, "suite_hash": suite_hash, "seed": str(seed),
                    "code_version": code_version(), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            conn.execute("INSERT INTO suite VALUES (?, ?, ?)", (suite_name, suite_hash, suite_text))
        return cls(directory, conn)

    def meta(self) -> dict:
        return dict(self.conn.execute("SELECT key, value FROM meta").fetchall())

    def suite_text(self) -> str:
        row = self.conn.execute("SELECT text FROM suite").fetchone()
        return row[0] if row else ""

    def set_meta(self, key: str, value: str) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def write(self, unit: str, level: float, trial: int, seed: int, row: dict | None, error: str | None = None,
              seconds: float = 0.0) -> None:
        """Store one finished trial (one transaction); a failure stores its traceback instead of a row."""
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              (unit, float(level), int(trial), int(seed), "failed" if error else "ok",
                               json.dumps(row) if row is not None else None, error, seconds))

    def rows(self, status: str = "ok") -> list[tuple]:
        """(unit, level, trial, seed, row dict or None, error) of every stored trial with `status`."""
        cur = self.conn.execute("SELECT unit, level, trial, seed, row, error FROM results WHERE status = ? "
                                "ORDER BY unit, level, trial", (status,))
        return [(u, lv, t, s, json.loads(r) if r else None, e) for u, lv, t, s, r, e in cur.fetchall()]

    def close(self) -> None:
        self.conn.close()


def export(directory, fmt: str, stream) -> None:
    """Write every stored trial as CSV (row fields flattened to JSON text) or as a JSON document."""
    store = Store.open(directory)
    rows = store.rows("ok") + store.rows("failed")
    if fmt == "json":
        json.dump({"meta": store.meta(), "suite": store.suite_text(),
                   "results": [{"unit": u, "level": lv, "trial": t, "seed": s, "row": r, "error": e}
                               for u, lv, t, s, r, e in rows]},
                  stream, indent=1, default=lambda v: None if isinstance(v, float) and not math.isfinite(v) else v)
        stream.write("\n")
        return
    keys = sorted({k for *_, r, _e in rows if r for k in r})
    writer = csv.writer(stream)
    writer.writerow(["unit", "level", "trial", "seed", "status", *keys, "error"])
    for u, lv, t, s, r, e in rows:
        writer.writerow([u, repr(lv), t, s, "failed" if e else "ok",
                         *[json.dumps(r.get(k)) if r else "" for k in keys], e or ""])


def read_summary(directory) -> dict:
    """The summary.json of a finished run (StoreError when the run has not finished)."""
    path = Path(directory) / SUMMARY
    if not path.is_file():
        raise StoreError(f"{directory}: no {SUMMARY}; the run is unfinished (rerun `testbed run` to resume it)")
    return json.loads(path.read_text())
