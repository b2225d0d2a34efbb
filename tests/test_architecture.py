"""The arrows of the design, kept: circuits imports nothing of ours, networks only circuits, testbed no reports
(its command line, testbed.cli, excepted), reports only the store (with its error type) and summary of testbed;
only the command line sits above them all, and nothing else imports it."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = {"circuits", "networks", "testbed", "reports"}
CLI = "testbed.cli"
ALLOWED = {"circuits": set(), "networks": {"circuits"}, "testbed": {"circuits", "networks"},
           "reports": {"testbed.store", "testbed.errors", "testbed.summary"}, CLI: OURS}


def _imports(path: Path) -> set[str]:
    """Every module of ours that a file imports, at any depth (function bodies included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {m for m in found if m.split(".")[0] in OURS}


def _room(path: Path) -> str:
    """The room of the arrows a file belongs to: its top-level package, or the command line."""
    rel = path.relative_to(ROOT)
    return CLI if rel.parts[:2] == ("testbed", "cli") else rel.parts[0]


def test_packages_import_only_along_the_arrows():
    bad = []
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            room, allowed = _room(path), ALLOWED[_room(path)]
            for module in _imports(path):
                top = module.split(".")[0]
                in_cli = module == CLI or module.startswith(CLI + ".")
                if in_cli and room != CLI:
                    bad.append(f"{path.relative_to(ROOT)} imports the command line {module}")
                elif not in_cli and (top == room.split(".")[0] or module in allowed or top in allowed):
                    continue
                elif room != CLI:
                    bad.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not bad, "\n".join(bad)


def test_the_check_sees_a_forbidden_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from reports.build import write_report\n")
    assert _imports(probe) == {"reports.build"}
