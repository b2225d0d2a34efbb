"""Exception types of the testbed package; the command line maps them to exit status 2.

TestbedError is the project's one error root (defined in circuits.errors, the package below all others):
NetlistError, NetworkError, ReportError and the testbed's own types below derive from it.
"""

from circuits.errors import TestbedError


class SuiteError(TestbedError):
    """A suite file is malformed; the message lists every problem with its table path."""


class NoiseError(TestbedError):
    """A noise model, level or site is invalid for the system it is applied to."""


class StoreError(TestbedError):
    """A results store cannot be used (changed suite, wrong schema, missing directory)."""


class WorkerLost(RuntimeError):
    """A worker process died during a run (not bad input); rerunning the same command resumes the run."""
