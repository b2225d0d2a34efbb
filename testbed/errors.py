"""Exception types of the testbed package; the command line maps them to exit status 2."""


class TestbedError(ValueError):
    """Bad input to the testbed; the message names the file, field or value at fault."""

    __test__ = False  # not a pytest test class


class SuiteError(TestbedError):
    """A suite file is malformed; the message lists every problem with its table path."""


class NoiseError(TestbedError):
    """A noise model, level or site is invalid for the system it is applied to."""


class StoreError(TestbedError):
    """A results store cannot be used (changed suite, wrong schema, missing directory)."""


class WorkerLost(RuntimeError):
    """A worker process died during a run (not bad input); rerunning the same command resumes the run."""
