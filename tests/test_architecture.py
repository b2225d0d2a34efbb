"""The arrows of DESIGN.md, kept: circuits imports nothing of ours, networks only circuits, testbed no reports
(nor the command line), reports only the store (with its error type), summary, escaping and file writing of
testbed; only cli sits above them all."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = {"circuits", "networks", "testbed", "reports", "cli"}
ALLOWED = {"circuits": set(), "networks": {"circuits"}, "testbed": {"circuits", "networks"},
           "reports": {"testbed.store", "testbed.errors", "testbed.summary", "testbed.escape",
                       "testbed.files"}, "cli": OURS}


def _imports(path: Path) -> set[str]:
    """Every module of ours that a file imports, at any depth (function bodies included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {m for m in found if m.split(".")[0] in OURS}


def test_packages_import_only_along_the_arrows():
    bad = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for module in _imports(path):
                top = module.split(".")[0]
                if top == package or module in allowed or top in allowed:
                    continue
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not bad, "\n".join(bad)


def test_the_check_sees_a_forbidden_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from reports.build import write_report\n")
    assert _imports(probe) == {"reports.build"}
