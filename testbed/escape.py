"""Escaping of user-given text (suite, system and sweep names, descriptions, file names) for each output format.

Every string from a suite or a results folder that reaches HTML, Markdown, a terminal or a CSV file goes
through the function for that format: nothing user-given becomes markup, a script, a terminal control sequence
or a spreadsheet formula.
"""

from __future__ import annotations

import html
import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def html_text(value) -> str:
    """`value` as HTML text or attribute content (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def terminal_text(value, keep_newlines: bool = True) -> str:
    """`value` with control characters (ESC and the other C0/C1 codes, bidirectional overrides) shown as
    \\xNN / \\uNNNN escapes, so no escape sequence reaches the terminal; newlines kept unless told otherwise."""
    text = str(value)
    if not keep_newlines:
        text = text.replace("\r", "\\r").replace("\n", "\\n")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                        text)


def md_text(value) -> str:
    """`value` as one line of Markdown text: Markdown's and HTML's special characters backslash-escaped,
    line breaks and other control characters shown as escapes (a name cannot start a new block)."""
    text = terminal_text(value, keep_newlines=False)
    return "".join("\\" + ch if ch in "\\`*_{}[]<>|#!&" else ch for ch in text)


def md_fence(text: str, info: str = "") -> list[str]:
    """`text` as a fenced Markdown code block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, text, fence]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_cell(value) -> str:
    """`value` as a CSV cell that no spreadsheet reads as a formula: text starting with = + - @ TAB or CR
    (and not a number) gets a leading apostrophe."""
    text = str(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text
