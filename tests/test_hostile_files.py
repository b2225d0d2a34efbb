"""No clobbered files (issue 21, item 5): `run --out` touches nothing before the folder is known to be ours and
follows no symlink; `report` writes every file atomically and never through a link, so a failed write (here a
file-size limit) leaves the previous report whole. Driven through the command line."""

from __future__ import annotations

import os
import resource
import shutil
from pathlib import Path

import pytest

from tests.hostile import TINY_SUITE, cli, finished_tiny_run, refused, tree


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    return finished_tiny_run(tmp_path_factory.mktemp("finished"))


@pytest.fixture
def world(tmp_path) -> tuple[Path, Path]:
    """(work folder with the suite, a folder outside holding a precious file)."""
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    (work / "s.toml").write_text(TINY_SUITE)
    (outside / "precious.txt").write_text("keep me\n")
    return work, outside


def _run(work: Path, out) -> object:
    return cli("run", "s.toml", "--out", out, "--workers", "1", "--no-report", cwd=work)


@pytest.mark.parametrize("link", [".lock", "results.sqlite", "results.sqlite-wal"])
def test_a_symlink_in_the_results_folder_is_never_followed(world, link):
    work, outside = world
    (work / "run").mkdir()
    (work / "run" / link).symlink_to(outside / "precious.txt")
    before = tree(work.parent)
    refused(_run(work, "run"), link)
    assert tree(work.parent) == before and (outside / "precious.txt").read_text() == "keep me\n"


def test_a_foreign_folder_is_refused_before_anything_is_touched(world):
    work, _ = world
    foreign = work / "mine"
    foreign.mkdir()
    (foreign / ".results-notes.sqlite").write_text("a user's file that looks like a leftover")
    (foreign / "thesis.tex").write_text("\\documentclass{article}")
    before = tree(work.parent)
    refused(_run(work, "mine"), "mine", "not a testbed results directory")
    assert tree(work.parent) == before  # no .lock created, no leftover-looking file deleted


def test_an_empty_out_is_no_folder(world):
    work, _ = world
    before = tree(work.parent)
    refused(_run(work, ""), "--out")
    assert tree(work.parent) == before


@pytest.mark.parametrize("name", ["report.html", "report.md", "figures"])
def test_report_never_writes_through_a_symlink(finished_run, world, name):
    _, outside = world
    run = outside.parent / "run"
    shutil.copytree(finished_run, run, symlinks=True)
    target = outside if name == "figures" else outside / "precious.txt"
    if (run / name).is_dir():
        shutil.rmtree(run / name)
    else:
        (run / name).unlink()
    (run / name).symlink_to(target)
    before = tree(outside)
    result = cli("report", run, cwd=outside.parent)
    assert tree(outside) == before
    if name == "figures":  # a folder of its own is needed: refused, naming it
        refused(result, "figures")
    else:  # the link is replaced by the report itself
        assert result.returncode == 0, result.stderr
        assert not (run / name).is_symlink() and (run / name).stat().st_size > 0


def test_a_failed_report_write_leaves_the_previous_report_whole(finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    before = tree(run)
    limit = (run / "report.html").stat().st_size // 2  # the figures and the store's shared memory fit, the page not
    assert limit > max(p.stat().st_size for p in run.rglob("*") if p.is_file() and p.name != "report.html")

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    refused(cli("report", run, cwd=tmp_path, preexec_fn=small_files), "cannot write the report")
    assert tree(run) == before  # every file whole, no temporary left behind
    assert not [p for p in run.rglob("report*") if p.stat().st_size == 0]


def test_run_refuses_an_out_that_is_a_file(world):
    work, _ = world
    (work / "out").write_text("not a folder")
    before = tree(work.parent)
    refused(_run(work, "out"), "out")
    assert tree(work.parent) == before and os.path.isfile(work / "out")
