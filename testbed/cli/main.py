"""The `testbed` command line: run suites, report, show and export results, list what is known.

It sits above every package (testbed runs experiments, reports renders them; neither imports the other).
Bad input (TestbedError, the root of every package's error type) becomes one line on stderr and exit status 2;
--debug shows the traceback. A run whose points partly failed exits 1; an interrupted one 130.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import warnings

from testbed import __version__

EXIT_OK, EXIT_FAILED_POINTS, EXIT_BAD_INPUT, EXIT_WORKER_LOST, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="testbed", description="Digital-versus-neural robustness testbed: put "
                                "gate-level circuits and quantized networks under the same injected noise.")
    p.add_argument("--version", action="version", version=f"testbed {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    r = sub.add_parser("run", help="run a suite into a results directory", description="Run a suite (TOML) and "
                       "write its results store and report into DIR; rerunning resumes missing points.")
    r.add_argument("suite", metavar="SUITE", help="suite file (TOML)")
    r.add_argument("--out", required=True, metavar="DIR", help="results directory")
    r.add_argument("--workers", type=_positive, default=None, metavar="N",
                   help="worker processes (default: all cores)")
    r.add_argument("--scheduler", metavar="ADDRESS", help="run points on a Dask distributed scheduler")
    r.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    r.add_argument("--allow-code", action="store_true", help="let the suite's networks name Python entry points "
                   "(model = \"module:function\"): that runs their code, which a suite never does otherwise")
    rep = sub.add_parser("report", help="write the report of one run (or compare two)",
                         description="Write report.html, report.md and figures into DIR from its summary.json "
                         "(with two directories: a side-by-side comparison).")
    rep.add_argument("dirs", nargs="+", metavar="DIR", help="results directory (two to compare)")
    sh = sub.add_parser("show", help="print break-down levels and gaps of a run",
                        description="Print a terminal summary of a results directory.")
    sh.add_argument("dir", metavar="DIR")
    ex = sub.add_parser("export", help="export the results store as CSV or JSON",
                        description="Write every stored row to stdout as CSV or JSON.")
    ex.add_argument("dir", metavar="DIR")
    ex.add_argument("--format", choices=("csv", "json"), default="csv")
    sub.add_parser("list", help="list known circuits, networks, noise models and sites",
                   description="List the built-in circuits, networks, noise models and sites.")
    return p


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    from testbed.escape import terminal_text

    return f"testbed: warning: {terminal_text(message, keep_newlines=False)}\n"


def _terminated(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning  # a cache warning is one line, like every other message
    with contextlib.suppress(ValueError):  # (only the main thread may set it)
        signal.signal(signal.SIGTERM, _terminated)  # like Ctrl-C: temporary folders removed, child programs ended
    for stream in (sys.stdout, sys.stderr):  # names a terminal's encoding cannot show are escaped, not fatal
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors are bad input
        return EXIT_BAD_INPUT if exc.code not in (0, None) else EXIT_OK
    from testbed.environment import environment_problem
    from testbed.errors import TestbedError, WorkerLost
    from testbed.escape import terminal_text

    if environment_problem():  # before Numba is imported: it would fail with a traceback
        print(f"testbed: error: {terminal_text(environment_problem(), keep_newlines=False)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return _dispatch(args)
    except TestbedError as exc:  # the root of every package's bad-input error
        if args.debug:
            raise
        print(f"testbed: error: {terminal_text(exc, keep_newlines=False)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except WorkerLost as exc:
        print(f"testbed: {terminal_text(exc, keep_newlines=False)}", file=sys.stderr)
        return EXIT_WORKER_LOST
    except KeyboardInterrupt:
        print("testbed: interrupted; rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`testbed export DIR | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _dispatch(args) -> int:
    if args.command == "list":
        from testbed.catalog import describe

        print(describe())
        return EXIT_OK
    if args.command == "run":
        return _run(args)
    if args.command == "report":
        from reports.build import report_cli

        return report_cli(args.dirs)
    if args.command == "show":
        from testbed.escape import terminal_text
        from testbed.show import show

        print(terminal_text(show(args.dir)))
        return EXIT_OK
    if args.command == "export":
        from testbed.store import export

        export(args.dir, args.format, sys.stdout)
        return EXIT_OK
    raise AssertionError(args.command)


def _run(args) -> int:
    """`testbed run`: exit 0 when every trial ran, 1 when some failed (stored with their tracebacks)."""
    from testbed.escape import terminal_text
    from testbed.runner import run_suite
    from testbed.show import show_summary

    result = run_suite(args.suite, args.out, args.workers, args.scheduler, allow_code=args.allow_code)
    for note in result["notes"]:
        print(f"note: {terminal_text(note, keep_newlines=False)}", file=sys.stderr)
    print(terminal_text(show_summary(result["summary"])))
    if not args.no_report:
        from reports.build import write_report

        paths = write_report([args.out])
        print(f"report: {paths['html']}")
    if result["failed"]:
        print(terminal_text(f"testbed: {len(result['failed'])} sweep unit(s) had failed trials (tracebacks in the "
                            "store): " + ", ".join(result["failed"]), keep_newlines=False), file=sys.stderr)
        return EXIT_FAILED_POINTS
    return EXIT_OK
