"""Robustness reports (HTML, Markdown, PNG figures, summary.json) made from a results store."""

from reports.errors import ReportError

__all__ = ["ReportError"]
