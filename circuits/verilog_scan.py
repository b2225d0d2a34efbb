"""The files a Verilog source asks to read, checked before Yosys sees it.

`include directives and the file-reading system tasks ($readmemh, $readmemb, $fopen, ...) may name only files
below the Verilog file's own folder, by a relative path in quotes without `..`: an absolute path, a path out of
the folder or a name built from a macro is refused with one NetlistError line naming the file and line.
Included files are checked the same way (relative ones are resolved in the Verilog file's folder). Yosys
then runs confined to that folder (circuits.sandbox), which also covers what a text scan cannot see.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from circuits.errors import NetlistError

_TOKENS = re.compile(r'"(?:\\.|[^"\\\n])*"|//[^\n]*|/\*.*?\*/', re.S)
_INCLUDE = re.compile(r"`include\b\s*(\"(?:\\.|[^\"\\\n])*\")?")
_FILE_TASK = re.compile(r"\$(readmemh|readmemb|sreadmemh|sreadmemb|writememh|writememb|fopen|fread|fscanf|"
                        r"dumpfile|fdisplay|fwrite)\s*\(\s*(\"(?:\\.|[^\"\\\n])*\")?")
MAX_FILES = 100  # included files checked per design


def _without_comments(text: str) -> str:
    """`text` with comments blanked (line numbers kept) and strings kept."""
    return _TOKENS.sub(lambda m: m.group() if m.group().startswith('"') else re.sub(r"[^\n]", " ", m.group()), text)


def _relative(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return bool(name) and "\0" not in name and not name.startswith(("/", "\\", "~")) and ".." not in parts \
        and not re.match(r"[A-Za-z]:", name)


def check_file_access(path: Path, folder: Path | None = None, seen: set | None = None) -> None:
    """NetlistError unless every file that `path` (and, recursively, the files it includes) names is a
    relative path below `folder` (default: path's own folder)."""
    folder = folder or path.parent
    seen = seen if seen is not None else set()
    seen.add(path)
    try:
        text = _without_comments(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        raise NetlistError(f"{path}: cannot read ({exc.strerror or exc})") from None
    for m in [*_INCLUDE.finditer(text), *_FILE_TASK.finditer(text)]:
        line = text.count("\n", 0, m.start()) + 1
        include = m.re is _INCLUDE
        task, literal = ("`include", m.group(1)) if include else (f"${m.group(1)}", m.group(2))
        if literal is None:
            raise NetlistError(f"{path}:{line}: {task} must name its file as a string in quotes (a relative path "
                               "below the Verilog file's folder)")
        name = literal[1:-1]
        if not _relative(name):
            raise NetlistError(f"{path}:{line}: {task} {literal}: only relative paths below the Verilog file's "
                               "folder may be read (no absolute path, no '..')")
        included = folder / name
        if include and len(seen) < MAX_FILES and included.is_file() and included not in seen:
            check_file_access(included, folder, seen)
