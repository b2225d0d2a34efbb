"""Tasks as data: which classes of a built-in data set a task keeps, how it merges them into labels, and how many
of the kept test inputs it evaluates.

A task is written (in a suite) as a table `{keep = [...], groups = [[...], ...] | "NAME", test_inputs = N}`:
keep the listed classes (default: every class the groups name), label each kept input by the index of the group
holding its class (groups in the order given; default: each kept class its own group, in keep's order), and
evaluate a seeded subsample of N of the kept test inputs (default: all). Named partitions of ten classes are in
PARTITIONS. Training uses every kept training input with its merged label, so a network's output width is the
number of groups. The subsample is np.random.default_rng(0).choice of N kept test indices, sorted: tasks that
keep the same classes evaluate the same inputs, whatever their groups.

A task's data set is named '<base>:<groups>[:test=N]' (groups as 'a,b|c,d', in canonical order), which is what
model caches, data set loading and summaries see (`networks.data.load` reads such names through `dataset`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from networks.errors import NetworkError

PARTITIONS = {  # named partitions of the classes 0..9 into groups
    "even-odd": ((0, 2, 4, 6, 8), (1, 3, 5, 7, 9)),
    "low-high": ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9)),
    "mod-4": ((0, 4, 8), (1, 5, 9), (2, 6), (3, 7)),
    "mod-5": ((0, 5), (1, 6), (2, 7), (3, 8), (4, 9)),
}
KEYS = ("keep", "groups", "test_inputs")
NAME = re.compile(r"([A-Za-z][\w-]*):(\d+(?:,\d+)*(?:\|\d+(?:,\d+)*)*)(?::test=(\d+))?")
MAX_CLASSES = 1000


class TaskError(NetworkError):
    """A task that cannot be: `field` names its key ('keep', 'groups', 'test_inputs', or '' for the table)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Task:
    """The groups of classes (each group one label, in order; their union the kept classes) and the number of
    test inputs (None: all kept ones)."""

    groups: tuple
    test_inputs: int | None = None

    @property
    def keep(self) -> tuple:
        return tuple(sorted(c for g in self.groups for c in g))

    def dataset_name(self, base: str) -> str:
        groups = "|".join(",".join(map(str, g)) for g in self.groups)
        return f"{base}:{groups}" + (f":test={self.test_inputs}" if self.test_inputs is not None else "")

    def apply(self, ds):
        """The task's Dataset from its base data set `ds` (networks.data.Dataset): kept inputs, merged labels,
        the test subsample; n_classes = the number of groups."""
        from networks.data import Dataset

        label = np.full(ds.n_classes, -1, np.int64)
        for i, g in enumerate(self.groups):
            label[list(g)] = i
        train = label[ds.y_train] >= 0
        test = np.flatnonzero(label[ds.y_test] >= 0)
        if self.test_inputs is not None:
            test = np.sort(np.random.default_rng(0).choice(test, self.test_inputs, replace=False))
        return Dataset(self.dataset_name(ds.name), ds.x_train[train], label[ds.y_train[train]], ds.x_test[test],
                       label[ds.y_test[test]], len(self.groups), ds.shape)


def parse(value, base: str) -> Task:
    """The Task of a suite's task table on the built-in data set `base`; TaskError naming the key otherwise."""
    if not isinstance(value, dict):
        raise TaskError("", f"must be a table {{keep = [...], groups = [[...], ...] or a name, test_inputs = N}}, "
                            f"got {type(value).__name__}")
    unknown = [k for k in value if k not in KEYS]
    if unknown:
        raise TaskError(unknown[0], f"unknown key (allowed: {', '.join(KEYS)})")
    ds = _base(base)
    keep, groups, n = value.get("keep"), value.get("groups"), value.get("test_inputs")
    if keep is not None and not _classes(keep):
        raise TaskError("keep", f"must be a non-empty list of distinct class numbers, got {keep!r}")
    if isinstance(groups, str):
        if groups not in PARTITIONS:
            raise TaskError("groups", f"unknown partition {groups!r} (known: {', '.join(PARTITIONS)})")
        groups = PARTITIONS[groups]
    elif groups is None:
        if keep is None:
            raise TaskError("", "give keep, groups or both")
        groups = [[c] for c in keep]
    elif not (isinstance(groups, list) and groups and all(_classes(g) for g in groups)):
        raise TaskError("groups", f"must be a non-empty list of non-empty lists of class numbers, or one of "
                                  f"{', '.join(PARTITIONS)}; got {groups!r}")
    named = [c for g in groups for c in g]
    if len(set(named)) != len(named):
        raise TaskError("groups", f"a class is in more than one group: {groups!r}")
    if keep is not None and sorted(named) != sorted(keep):
        raise TaskError("groups", f"the groups must hold exactly the kept classes {sorted(keep)}, they hold "
                                  f"{sorted(named)}")
    if len(groups) < 2:
        raise TaskError("groups", f"a task needs at least 2 groups (labels), got {len(groups)}")
    if max(named) >= ds.n_classes:
        raise TaskError("keep" if keep is not None else "groups",
                        f"data set {base} has classes 0..{ds.n_classes - 1}, not {max(named)}")
    available = int(np.isin(ds.y_test, named).sum())
    if n is not None and not (isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= available):
        raise TaskError("test_inputs", f"must be an integer in 1..{available} (the kept test inputs), got {n!r}")
    return Task(tuple(tuple(int(c) for c in g) for g in groups), n)


def dataset(name: str):
    """The Dataset of a task's data set name '<base>:<groups>[:test=N]' (NetworkError when it is not one)."""
    m = NAME.fullmatch(name)
    if m is None:
        raise NetworkError(f"data set {name!r}: not a task's name '<base>:<groups>[:test=N]'")
    groups = [[int(c) for c in g.split(",")] for g in m.group(2).split("|")]
    test = int(m.group(3)) if m.group(3) else None
    try:
        task = parse({"groups": groups, **({"test_inputs": test} if test is not None else {})}, m.group(1))
    except TaskError as exc:
        raise NetworkError(f"data set {name!r}: {exc.field or 'task'}: {exc}") from None
    return task.apply(_base(m.group(1)))


def input_set(name: str) -> str:
    """The inputs a data set evaluates, for comparing tasks: '<base>{kept classes}[:test=N]' for a task's name,
    else the name itself."""
    m = NAME.fullmatch(name)
    if m is None:
        return name
    keep = sorted(int(c) for g in m.group(2).split("|") for c in g.split(","))
    return f"{m.group(1)}{{{','.join(map(str, keep))}}}" + (f":test={m.group(3)}" if m.group(3) else "")


@lru_cache(maxsize=8)
def _base(base: str):
    from networks import data as datasets

    if base not in datasets.DATASETS:
        raise TaskError("", f"applies to a built-in data set ({', '.join(datasets.DATASETS)}), not {base!r}")
    return datasets.DATASETS[base]()


def _classes(v) -> bool:
    return (isinstance(v, list) and 0 < len(v) <= MAX_CLASSES and len(set(v)) == len(v)
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < MAX_CLASSES for c in v))
