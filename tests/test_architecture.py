"""The arrows of the design, kept: circuits imports nothing of ours; the hardware room (hardware/) only public names
of circuits; networks only circuits and hardware, and nothing below the compilers room (networks/compilers/)
imports it; testbed no reports (nor its command line, the room testbed/cli/); reports only the store (with its
error type), summary, escaping and file writing of testbed; only the command line sits above them all; no two
rooms import each other."""

import ast
from pathlib import Path

import circuits

ROOT = Path(__file__).resolve().parent.parent
OURS = {"circuits", "hardware", "networks", "testbed", "reports"}
COMPILERS = "networks.compilers"
CLI = "testbed.cli"
ALLOWED = {"circuits": set(), "hardware": {"circuits"}, "networks": {"circuits", "hardware"},
           COMPILERS: {"circuits", "hardware", "networks"}, "testbed": {"circuits", "hardware", "networks", COMPILERS},
           "reports": {"testbed.store", "testbed.errors", "testbed.summary", "testbed.escape", "testbed.files"},
           CLI: OURS | {COMPILERS}}


def _imports(path: Path) -> set[tuple[str, str]]:
    """Every (module, name) of ours that a file imports, at any depth (function bodies included); name is '' for
    `import module`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {(a.name, "") for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {(node.module, a.name) for a in node.names}
    return {(m, n) for m, n in found if m.split(".")[0] in OURS}


def _room(module: str) -> str:
    """The room a module belongs to: its top package, the compilers room or the command line."""
    for sub_room in (COMPILERS, CLI):
        if module == sub_room or module.startswith(sub_room + "."):
            return sub_room
    return module.split(".")[0]


def _files(room: str):
    for path in sorted((ROOT / room.replace(".", "/")).rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if _room(module) == room:
            yield path


def _edges() -> tuple[set[tuple[str, str]], list[str]]:
    """(room -> room arrows, imports that break the rules)."""
    arrows, bad = set(), set()
    for room, allowed in ALLOWED.items():
        for path in _files(room):
            for module, _name in _imports(path):
                target = _room(module)
                if target != room:
                    arrows.add((room, target))
                if target == room or module in allowed or target in allowed:
                    continue
                bad.add(f"{path.relative_to(ROOT)} imports {module}")
    return arrows, sorted(bad)


def _private(module: str, name: str) -> bool:
    """Whether importing `name` from the circuits module `module` reaches past its public names."""
    if any(part.startswith("_") for part in module.split(".")):
        return True
    if module == "circuits":
        return name not in circuits.__all__
    return name.startswith("_")


def test_packages_import_only_along_the_arrows():
    _, bad = _edges()
    assert not bad, "\n".join(bad)


def test_the_hardware_room_imports_only_public_names_of_circuits():
    bad = [f"{path.relative_to(ROOT)} imports {module}.{name}" for path in _files("hardware")
           for module, name in _imports(path) if module.split(".")[0] == "circuits" and _private(module, name)]
    assert not bad, "\n".join(bad)


def test_no_two_rooms_import_each_other():
    arrows, _ = _edges()
    both = sorted(f"{a} <-> {b}" for a, b in arrows if (b, a) in arrows and a < b)
    assert not both, both


def test_the_checks_see_forbidden_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from reports.build import write_report\n    from circuits.bitplanes import _pack\n")
    assert _imports(probe) == {("reports.build", "write_report"), ("circuits.bitplanes", "_pack")}
    assert _private("circuits.bitplanes", "_pack") and _private("circuits", "fault_masks")
    assert not _private("circuits", "GateFaultPlan") and not _private("circuits.builder", "Builder")
    assert _room("networks.compilers.trees") == COMPILERS and _room("networks.engine") == "networks"
    assert _room("testbed.cli.main") == CLI and _room("testbed.suite") == "testbed"
