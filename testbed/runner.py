"""The campaign runner: expand a suite into trials, run them in workers, store each one, resume.

Rounds: every sweep unit says which (level, trial) pairs it needs next (a pure function of the rows
already stored, so a resumed run asks for exactly what an uninterrupted one would); the round's trials run
on an executor (in-process for one worker, local processes, or a Dask cluster) and each finished trial is
written to the store by this process alone, in one transaction. Seeds come from (suite seed, point id,
trial), so results do not depend on the number of workers or the order trials finish in.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from tqdm import tqdm

from testbed.build import build_systems, build_units
from testbed.errors import TestbedError, WorkerLost
from testbed.escape import terminal_text
from testbed.progress import InputBar
from testbed.store import Store
from testbed.suite import load_suite
from testbed.summary import build_summary, write_summary

_WORKER_UNITS: dict = {}


def _units_for(suite_path: str, suite_hash: str, allow_code: bool) -> dict:
    """The sweep units of a suite, built once per process (workers and Dask keep them between tasks)."""
    if suite_hash not in _WORKER_UNITS:
        suite = load_suite(suite_path)
        if suite.hash != suite_hash:
            raise TestbedError(f"{suite_path} changed while the run was going on")
        _WORKER_UNITS.clear()
        _WORKER_UNITS[suite_hash] = build_units(suite, build_systems(suite, progress=False, allow_code=allow_code))
    return _WORKER_UNITS[suite_hash]


def run_trial_task(suite_path: str, suite_hash: str, allow_code: bool, label: str, level: float, trial: int) -> tuple:
    """Run one trial; returns (label, level, trial, seed, row or None, traceback or None, seconds)."""
    t0 = time.perf_counter()
    sweep = _units_for(suite_path, suite_hash, allow_code)[label].sweep
    seed = sweep.trial_seed(level, trial)
    try:
        row = sweep.run_trial(level, trial)
        return label, level, trial, seed, row, None, time.perf_counter() - t0
    except Exception:  # noqa: BLE001 (a failed point is stored with its traceback; the rest still run)
        return label, level, trial, seed, None, traceback.format_exc(), time.perf_counter() - t0


class _InProcess:
    """An executor that runs each task when it is submitted (one worker: no process start-up)."""

    def submit(self, fn, *args):
        fut: Future = Future()
        fut.set_result(fn(*args))
        return fut

    def shutdown(self, cancel_futures=False):
        pass


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: a daemon thread ends this worker as soon as the runner that spawned it is gone
    (so a killed runner leaves no orphan workers)."""
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def make_executor(workers: int, scheduler: str | None):
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise TestbedError("--scheduler needs the optional extra: pip install '.[distributed]'") from None
        try:
            return _DaskExecutor(Client(scheduler, timeout="20s"))
        except (OSError, ValueError, TypeError) as exc:
            raise TestbedError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    if workers <= 1:
        return _InProcess()
    import multiprocessing

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_exit_with_parent, initargs=(os.getpid(),))


class _DaskExecutor:
    """Adapter of a dask.distributed Client to the submit/shutdown interface (futures are concurrent ones)."""

    def __init__(self, client):
        self.client = client

    def submit(self, fn, *args):
        fut: Future = Future()
        dfut = self.client.submit(fn, *args, pure=False)

        def done(d):
            try:
                fut.set_result(d.result())
            except Exception as exc:  # noqa: BLE001 (a lost worker: its trials are simply not stored)
                fut.set_exception(exc)
        dfut.add_done_callback(done)
        return fut

    def shutdown(self, cancel_futures=False):
        self.client.close()


def run_suite(suite_path, out_dir, workers: int | None = None, scheduler: str | None = None,
              progress: bool = True, allow_code: bool = False) -> dict:
    """Run (or resume) a suite into out_dir; returns {'summary', 'failed', 'notes'}.

    allow_code: a network's model may be a Python entry point (module:function), which runs code.
    Everything that can be bad input (the suite, its systems, the output directory, the scheduler) is checked
    before anything is written. Each finished trial is stored at once, whatever the executor."""
    suite = load_suite(suite_path)
    check_out_dir(out_dir)
    systems = build_systems(suite, progress=progress, allow_code=allow_code)
    units = build_units(suite, systems)
    if not units:
        raise TestbedError(f"{suite_path}: no sweep unit can run ({'; '.join(suite.notes)})")
    _warm_kernels(units)
    workers = workers or os.cpu_count() or 1
    executor = make_executor(workers, scheduler)
    try:
        store = Store.create(out_dir, suite.name, suite.hash, suite.text, suite.seed)
    except BaseException:
        executor.shutdown(cancel_futures=True)
        raise
    for label, level, trial, _seed, row, _ in store.rows("ok"):
        if label in units:
            units[label].sweep.add(level, trial, row)
    inputs_bar = None
    if workers > 1 or scheduler:
        _WORKER_UNITS.clear()
    else:
        _WORKER_UNITS[suite.hash] = units
        inputs_bar = _show_inputs(units, progress)
    failed: set = set()
    progress_bar = Progress(suite.name, len(store.rows("ok")), units, progress)
    path = str(Path(suite_path).resolve())

    def finish(fut) -> None:
        try:
            label, level, trial, seed, row, error, secs = fut.result()
        except Exception as exc:  # noqa: BLE001 (lost worker: rerun resumes these trials)
            raise WorkerLost(f"a worker was lost ({exc}); rerun the same command to resume") from None
        store.write(label, level, trial, seed, row, error, secs)
        if error:
            failed.add(label)
        else:
            units[label].sweep.add(level, trial, row)
        progress_bar.update()

    finished = False
    try:
        while True:
            todo = [(label, lv, t) for label, u in units.items() if label not in failed
                    for lv, t in u.sweep.pending()]
            if not todo:
                break
            progress_bar.planned(len(todo))
            futures = set()
            for item in todo:
                if inputs_bar is not None:
                    inputs_bar.desc = terminal_text(f"{item[0]} at {item[1]:g}, trial {item[2]}", False)
                fut = executor.submit(run_trial_task, path, suite.hash, allow_code, *item)
                if fut.done():  # the in-process executor: store it now, not at the end of the round
                    finish(fut)
                else:
                    futures.add(fut)
            while futures:
                done, futures = wait(futures, return_when=FIRST_COMPLETED)
                for fut in done:
                    finish(fut)
        finished = True
    finally:
        executor.shutdown(cancel_futures=True)
        progress_bar.close(finished)
    summary = build_summary(suite, units, store.meta())
    write_summary(out_dir, summary)
    store.close()
    return {"summary": summary, "failed": sorted(failed), "notes": suite.notes}


def check_out_dir(out_dir) -> None:
    """TestbedError unless out_dir is (or can become) a writable directory ("" is no directory, not the current
    one)."""
    if not str(out_dir).strip():
        raise TestbedError("--out: an empty path names no directory")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TestbedError(f"--out {out}: exists and is not a directory")
    existing = next((p for p in (out, *out.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        raise TestbedError(f"--out {out}: a part of the path is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TestbedError(f"--out {out}: {existing} is not writable")


class Progress:
    """Trials done out of trials planned so far (the total grows when a round adds work, so no percentage is
    shown). On a terminal a tqdm counter; otherwise a line every 10 s of progress. Says when a resumed run had
    nothing left to do."""

    def __init__(self, name: str, done: int, units: dict, enabled: bool):
        self.name, self.done, self.total, self.enabled = terminal_text(name, False), done, done, enabled
        self.start_done, self.t_last = done, time.monotonic()
        # no percentage or ETA: sequential designs add trials as they learn, so the total only grows
        self.bar = tqdm(total=done, initial=done, desc=self.name, unit="trial", smoothing=0.1,
                        bar_format="{desc}: {n_fmt} of {total_fmt} trials planned so far [{elapsed}, {rate_fmt}]",
                        disable=None if enabled else True)
        self.tty = enabled and not self.bar.disable

    def planned(self, n: int) -> None:
        self.total += n
        self.bar.total = self.total
        self.bar.refresh()

    def update(self) -> None:
        self.done += 1
        self.bar.update(1)
        if self.enabled and not self.tty and time.monotonic() - self.t_last >= 10:
            self.t_last = time.monotonic()
            print(f"{self.name}: {self.done} of {self.total} trials planned so far", file=sys.stderr, flush=True)

    def close(self, finished: bool = True) -> None:
        """End the counter; the closing line only when every round ran (an interrupted run is not complete)."""
        self.bar.close()
        if self.enabled and finished:
            ran = self.done - self.start_done
            print(f"{self.name}: {'complete' if ran else 'already complete'}: {self.done} trials stored"
                  + (f", {ran} run now" if ran else ""), file=sys.stderr, flush=True)


def _show_inputs(units: dict, progress: bool) -> InputBar:
    """The bar of the inputs done in each trial that runs in this process (systems that stream a test set in
    batches: their on_batch), on a terminal only; workers elsewhere report whole trials."""
    bar = InputBar("trial", None if progress else False)
    for system in {id(u.sweep.system): u.sweep.system for u in units.values()}.values():
        if hasattr(system, "on_batch"):
            system.on_batch = bar
    return bar


WARM_GATES = 2000  # netlists up to this size get their kernels compiled before workers start (seconds each)


def _warm_kernels(units: dict) -> None:
    """Compile (or load) the simulation kernels of every small circuit once here, before workers start, so they
    load them from the disk cache; larger ones are left to the simulator's automatic choice (the interpreter
    runs while a kernel compiles in the background)."""
    import numpy as np

    from circuits import simulate_planes
    from circuits.layout import WORDS

    seen = set()
    for net in (n for u in units.values() for n in u.sweep.system.netlists()):
        if not 0 < net.n_gates <= WARM_GATES or net.fingerprint() in seen:
            continue
        seen.add(net.fingerprint())
        planes = np.zeros((net.n_input_bits, WORDS), np.uint64)
        simulate_planes(net, planes, engine="compiled")
        simulate_planes(net, planes, engine="compiled", flip_p=1e-3)
