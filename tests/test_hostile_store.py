"""The results store under hostile conditions: interrupted creation, two runs at once, read-only archives,
tampered files, non-finite levels. Every failure is a StoreError naming the file, never a traceback."""

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import testbed.store as store_module
from testbed.errors import StoreError
from testbed.store import DB_NAME, LOCK, SCHEMA, SUMMARY, Store, export, read_summary

ROOT = Path(__file__).resolve().parents[1]
SUITE = ("demo", "hash1", "[suite]\nname = 'demo'\n", 7)


def _filled(directory: Path, levels=(0.001, 0.01)) -> Path:
    store = Store.create(directory, *SUITE)
    for k, level in enumerate(levels):
        store.write("c@gate", level, 0, 100 + k, {"exact": 0.5, "snr": float("inf"), "gap": float("nan")})
    store.write("n@weight", 0.5, 0, 9, None, error="Traceback: boom")
    store.close()
    return directory


def _files(directory: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_create_write_resume_and_read(tmp_path):
    d = _filled(tmp_path / "run")
    assert (d / DB_NAME).stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in d.iterdir() if not p.name.startswith(DB_NAME)) == [LOCK]
    store = Store.create(d, *SUITE)  # resume
    assert store.meta()["suite_hash"] == "hash1" and store.meta()["seed"] == "7"
    store.close()
    store = Store.open(d)
    assert store.suite_text() == SUITE[2]
    ok = store.rows("ok")
    assert [(u, lv, t, s) for u, lv, t, s, _r, _e in ok] == [("c@gate", 0.001, 0, 100), ("c@gate", 0.01, 0, 101)]
    assert ok[0][4]["exact"] == 0.5
    assert store.rows("failed")[0][5] == "Traceback: boom"
    store.close()
    assert not hasattr(Store, "set_meta")


def test_export_json_is_valid_json_with_infinite_levels(tmp_path):
    d = _filled(tmp_path / "run", levels=(float("-inf"), 0.25, float("inf")))
    out = io.StringIO()
    export(d, "json", out)

    def reject(name):
        raise AssertionError(f"{name} is not JSON")

    doc = json.loads(out.getvalue(), parse_constant=reject)
    levels = [r["level"] for r in doc["results"] if r["unit"] == "c@gate"]
    assert levels == ["-inf", 0.25, "inf"]
    assert doc["results"][0]["row"]["snr"] == "inf" and doc["results"][0]["row"]["gap"] is None
    assert doc["meta"]["suite_name"] == "demo"
    out = io.StringIO()
    export(d, "csv", out)
    assert out.getvalue().splitlines()[1].startswith("c@gate,-inf,0,100,ok")
    with pytest.raises(StoreError, match="csv or json"):
        export(d, "xml", io.StringIO())


def test_half_created_store_is_redone(tmp_path):
    """A kill between schema and meta rows (as older code could leave it) does not brick the directory."""
    d = tmp_path / "run"
    d.mkdir()
    conn = sqlite3.connect(d / DB_NAME)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    conn.close()
    with pytest.raises(StoreError, match="incomplete or tampered.*suite_name"):
        Store.open(d)
    store = Store.create(d, *SUITE)
    assert store.meta()["suite_hash"] == "hash1" and store.suite_text() == SUITE[2]
    store.close()


def test_leftovers_of_an_interrupted_creation_are_cleared(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / ".results-abc123.sqlite").write_bytes(b"SQLite format 3\x00 half")
    (d / ".results-abc123.sqlite-journal").write_bytes(b"x")
    (d / LOCK).write_text("12345")
    store = Store.create(d, *SUITE)
    store.close()
    assert sorted(p.name for p in d.iterdir() if not p.name.startswith(DB_NAME)) == [LOCK]


def test_second_run_on_the_same_directory_is_refused(tmp_path):
    d = tmp_path / "run"
    first = Store.create(d, *SUITE)
    with pytest.raises(StoreError, match=rf"is in use by another testbed run \(pid {os.getpid()}\)"):
        Store.create(d, *SUITE)
    Store.open(d).close()  # reading is not blocked
    first.close()
    Store.create(d, *SUITE).close()  # released on close


def test_run_in_another_process_holds_the_directory(tmp_path):
    d = tmp_path / "run"
    code = ("import sys; from testbed.store import Store\n"
            f"s = Store.create({str(d)!r}, 'demo', 'hash1', 'x', 7)\n"
            "print('held', flush=True); sys.stdin.readline(); s.close(); print('released', flush=True)\n")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match=rf"{d} is in use by another testbed run \(pid {child.pid}\)"):
            Store.create(d, *SUITE)
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "released"
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    assert child.returncode == 0
    Store.create(d, "demo", "hash1", "x", 7).close()


def test_changed_suite_is_refused_and_releases_the_lock(tmp_path):
    d = _filled(tmp_path / "run")
    with pytest.raises(StoreError, match="holds results of suite 'demo'"):
        Store.create(d, "other", "hash2", "", 0)
    Store.create(d, *SUITE).close()


@pytest.mark.parametrize("make,fragment", [
    (lambda p: p.write_text("a file"), "exists and is not a directory"),
    (lambda p: (p.mkdir(), (p / "notes.txt").write_text("mine")), "is not a testbed results directory"),
])
def test_create_refuses_what_is_not_a_results_directory(tmp_path, make, fragment):
    target = tmp_path / "out"
    make(target)
    with pytest.raises(StoreError, match=fragment):
        Store.create(target, *SUITE)


def test_create_under_a_file_is_a_store_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError, match="cannot create the results directory"):
        Store.create(tmp_path / "f" / "run", *SUITE)


def _read_only(monkeypatch, directory: Path) -> None:
    """Make `directory` read-only; where the permission bits do not bind (root), tell the store so."""
    for p in directory.iterdir():
        p.chmod(0o444)
    directory.chmod(0o555)
    if os.access(directory, os.W_OK):
        monkeypatch.setattr(store_module, "_writable", lambda path: False)


@pytest.fixture
def restore_modes(tmp_path):
    yield
    for p in [tmp_path, *tmp_path.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)


def test_read_only_archive_can_be_read_and_exported(tmp_path, monkeypatch, restore_modes):
    d = _filled(tmp_path / "run")
    (d / SUMMARY).write_text('{"suite": "demo", "sweeps": []}')
    _read_only(monkeypatch, d)
    before = _files(d)
    store = Store.open(d)
    assert len(store.rows("ok")) == 2 and store.meta()["suite_name"] == "demo"
    with pytest.raises(StoreError, match="cannot store a trial"):
        store.write("x", 1.0, 0, 0, {})
    store.close()
    out = io.StringIO()
    export(d, "json", out)
    assert len(json.loads(out.getvalue())["results"]) == 3
    assert read_summary(d) == {"suite": "demo", "sweeps": []}
    assert _files(d) == before  # nothing written, nothing created


def test_read_only_archive_with_a_leftover_log_shows_every_row(tmp_path, monkeypatch, restore_modes):
    """A run killed before its log was folded into the database: the rows in the log still count."""
    live = tmp_path / "live"
    store = Store.create(live, *SUITE)
    store.conn.execute("PRAGMA wal_autocheckpoint=0")
    for k in range(5):
        store.write("c@gate", float(k), 0, k, {"exact": 1.0})
    archive = tmp_path / "archive"
    archive.mkdir()
    for name in (DB_NAME, DB_NAME + "-wal"):
        (archive / name).write_bytes((live / name).read_bytes())
    store.close()
    assert (archive / (DB_NAME + "-wal")).stat().st_size > 0
    _read_only(monkeypatch, archive)
    before = _files(archive)
    reader = Store.open(archive)
    assert [lv for _u, lv, *_ in reader.rows("ok")] == [0.0, 1.0, 2.0, 3.0, 4.0]
    reader.close()
    assert _files(archive) == before


def _tamper(directory: Path, sql: str) -> None:
    conn = sqlite3.connect(directory / DB_NAME)
    with conn:
        conn.execute(sql)
    conn.close()


@pytest.mark.parametrize("sql,fragment", [
    ("DROP TABLE meta", "no such table: meta"),
    ("DELETE FROM meta WHERE key = 'suite_hash'", "meta lacks suite_hash"),
    ("DROP TABLE suite", "no such table: suite"),
])
def test_tampered_store_is_a_store_error_naming_the_file(tmp_path, sql, fragment):
    d = _filled(tmp_path / "run")
    _tamper(d, sql)
    attempts = (lambda: Store.open(d), lambda: Store.create(d, *SUITE), lambda: export(d, "json", io.StringIO()))
    for attempt in attempts:
        with pytest.raises(StoreError, match=fragment) as err:
            attempt()
        assert str(d / DB_NAME) in str(err.value)
    with pytest.raises(StoreError, match=fragment):  # not "in use": the failed attempts released the directory
        Store.create(d, *SUITE)


@pytest.mark.parametrize("row", ["{not json", "[1, 2]"])
def test_row_with_bad_json_is_a_store_error(tmp_path, row):
    d = _filled(tmp_path / "run")
    _tamper(d, f"UPDATE results SET row = '{row}' WHERE level = 0.01")
    store = Store.open(d)
    with pytest.raises(StoreError, match=r"the row of \(c@gate, 0\.01, 0\)") as err:
        store.rows("ok")
    assert str(d / DB_NAME) in str(err.value)
    store.close()
    with pytest.raises(StoreError, match="c@gate"):
        export(d, "csv", io.StringIO())


def test_garbage_database_is_a_store_error(tmp_path):
    d = _filled(tmp_path / "run")
    for name in (DB_NAME + "-wal", DB_NAME + "-shm"):
        (d / name).unlink(missing_ok=True)
    (d / DB_NAME).write_bytes(b"\x00garbage" * 500)
    for attempt in (lambda: Store.open(d), lambda: Store.create(d, *SUITE)):
        with pytest.raises(StoreError, match=DB_NAME):
            attempt()


def test_read_summary_says_what_is_missing(tmp_path):
    with pytest.raises(StoreError, match="no such directory"):
        read_summary(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="no results store"):
        read_summary(tmp_path / "empty")
    d = _filled(tmp_path / "run")
    with pytest.raises(StoreError, match="the run is unfinished"):
        read_summary(d)
    (d / SUMMARY).write_text("{truncated")
    with pytest.raises(StoreError, match=rf"{SUMMARY}: unreadable"):
        read_summary(d)
    with pytest.raises(StoreError, match="no such directory"):
        Store.open(tmp_path / "nowhere")
