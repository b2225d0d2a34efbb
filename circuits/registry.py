"""The circuit registry: name -> builder with typed parameters and defaults.

Suites, `testbed list` and the Hypothesis strategies read it; adding a generator is one decorated function:

    @circuit("my_adder", "what it is", width=Param(int, lo=1, hi=32))
    def my_adder(width): ...

Parameters are passed to the builder positionally, in the order they are declared. A parameter of type
`Path` names a file (suites resolve it against the suite's folder). `reference(**params)` may return the exact
function f(a, b) that the circuit computes (modulo its output width), for property tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from circuits.errors import NetlistError

REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """A builder parameter: type (int, str, bool or Path), default (REQUIRED: must be given; None: the builder
    derives it), integer range lo..hi, allowed strings."""

    type: type
    default: object = REQUIRED
    lo: int | None = None
    hi: int | None = None
    choices: tuple = ()
    help: str = ""

    def problem(self, value) -> str | None:
        """Why `value` is not acceptable, or None."""
        want = str if self.type is Path else self.type
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            return f"must be {want.__name__}, got {type(value).__name__} {value!r}"
        if want is int and ((self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi)):
            return f"must be in {self.lo}..{self.hi}, got {value}"
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))}, got {value!r}"
        return None


@dataclass(frozen=True)
class Generator:
    """A registered circuit: its builder, parameters (in call order) and a one-line summary."""

    name: str
    build: Callable
    summary: str
    params: dict = field(default_factory=dict)
    reference: Callable | None = None
    approximates: Callable | None = None  # for an approximate circuit: (**params) -> the exact f(a, b) it stands in for
    available: Callable[[], bool] = lambda: True

    def intended(self, **values) -> Callable | None:
        """The exact function f(a, b) the circuit computes or approximates, when the registry knows it."""
        ref = self.reference or self.approximates
        return ref(**values) if ref is not None else None

    @property
    def reads_file(self) -> bool:
        return any(p.type is Path for p in self.params.values())

    def problems(self, values: dict) -> dict[str, str]:
        """{parameter: why} for unknown, missing or invalid parameters."""
        out = {k: f"unknown parameter of {self.name} (allowed: {', '.join(self.params)})"
               for k in values if k not in self.params}
        for key, param in self.params.items():
            if key in values:
                why = param.problem(values[key])
                if why:
                    out[key] = why
            elif param.default is REQUIRED:
                out[key] = f"required by {self.name}: {param.help or param.type.__name__}"
        return out

    def __call__(self, **values):
        bad = self.problems(values)
        if bad:
            key, why = next(iter(bad.items()))
            raise NetlistError(f"circuit {self.name}: {key}: {why}")
        return self.build(*(values.get(k, p.default) for k, p in self.params.items()))


GENERATORS: dict[str, Generator] = {}


def circuit(name: str, summary: str, *, reference: Callable | None = None, approximates: Callable | None = None,
            available=None, **params: Param):
    """Register the decorated builder under `name` (a later registration of the same name replaces it)."""
    def register(fn):
        GENERATORS[name] = Generator(name, fn, summary, params, reference, approximates, available or (lambda: True))
        return fn
    return register


def generator(name: str) -> Generator:
    """The registered generator `name`, or NetlistError listing the known ones."""
    try:
        return GENERATORS[name]
    except KeyError:
        raise NetlistError(f"unknown circuit {name!r} (known: {', '.join(GENERATORS)})") from None
