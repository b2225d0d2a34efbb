"""The one exception type of the reports package (beneath the project's root, TestbedError)."""

from testbed.errors import TestbedError


class ReportError(TestbedError):
    """A results directory cannot be turned into a report; the message names the directory or table."""
