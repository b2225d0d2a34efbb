"""The one exception type of the reports package."""


class ReportError(ValueError):
    """A results directory cannot be turned into a report; the message names the directory or table."""
