"""Timing errors as a fault plan: the netlist clocked too fast (or its gates slowed), run by the timed simulator.

A `TimingPlan` is a `GateFaultPlan` that the simulator executes itself (`execute`): the vectors of one
evaluation become operand streams, each stream runs through `circuits.timed_simulate` on one chip (gate delays
with log-normal process variation drawn from the plan's seed) at the plan's clock period, and the sampled outputs
are the evaluation's outputs. Trials differ by the chip and by the order of the vectors in the streams.

Streams: the vectors (in a random order drawn from the seed, or in the given order) are dealt into at most
MAX_STREAMS streams of at least MIN_LENGTH elements (the last stream's gap filled with the first vectors again,
their outputs dropped); before its first element each stream is settled on its own last vector, and under
continuous clocking each ends with copies of its last vector until the circuit has settled, so that the toggles
count every transition the stream causes.

Dataflow: where the vectors are the products of a layer, v = (s * outputs + o) * inputs + i (row s, output
channel o, input i; `layout` = (rows, outputs, inputs)), `dataflow` fixes which operand pair precedes which:
"output-stationary" (the inputs of one dot product in sequence: s, o, i) or "weight-stationary" (one weight
w[o, i] held while the rows stream: o, i, s); `shuffle` then draws the order of the rows, not of the vectors.
A `loop` (the accumulator register of a processing element, output-stationary) deals whole dot products into the
streams and feeds the sampled output back: input i > 0 of a dot product takes on the loop's input bus the output
sampled for input i - 1 (circuits.timed_simulate's feedback); the streams then end at their last sample (no
settling tail: its repeated vector would accumulate again), so the energy counts transitions up to it.

Voltage: slowing every gate by a factor s is the same as dividing the period by s (time scales), so a plan's
`delay_scale` divides the period; the delays themselves stay on their grid. Energy: the dynamic energy per
operation relative to nominal is energy_scale (e.g. (V / V_nominal)^2) times the stream's dynamic energy
(toggles x fan-out capacitance, circuits.timing.dynamic_energy) over the same chip's on the same streams clocked
slowly enough to settle.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from circuits.bitplanes import pack_rows, unpack_rows
from circuits.errors import NetlistError
from circuits.faults import GateFaultPlan, _check_seed
from circuits.netlist import Netlist
from circuits.simulate import to_signed
from circuits.timed import CLOCKINGS, timed_simulate
from circuits.timing import TABLES, dynamic_energy, gate_delays, static_timing

DATAFLOWS = ("output-stationary", "weight-stationary")
MAX_STREAMS = 2048  # streams simulated side by side (the timed kernel's largest block)
MIN_LENGTH = 16  # elements per stream at least (fewer vectors: fewer streams)
GRID_STEPS = 8  # the delay grid resolves 1/8 of the fastest gate of the delay table (a power of two)


class TimingReport(NamedTuple):
    """What one timed evaluation measured: period (the clock period simulated, delay units of the nominal
    delays), D (the nominal critical path delay), D_chip (the chip's, with its process variation), energy (the
    dynamic energy of the evaluation times energy_scale) and nominal_energy (the same streams settled, at the
    nominal supply), in units of C V_nominal^2; toggles (per gate, this evaluation)."""

    period: float
    D: float
    D_chip: float
    energy: float
    nominal_energy: float
    toggles: np.ndarray

    @property
    def energy_ratio(self) -> float:
        """Dynamic energy per operation relative to nominal (1 when nothing toggled)."""
        return self.energy / self.nominal_energy if self.nominal_energy else 1.0


def delay_grid(delays) -> float:
    """The grid of a chip's delays and the period: the largest power of two at most 1/GRID_STEPS of the fastest
    gate of the table (unit: 1/8; cells: 1/2 delay unit)."""
    fastest = min(TABLES[delays].values()) if isinstance(delays, str) else float(np.min(delays))
    return 2.0 ** math.floor(math.log2(fastest / GRID_STEPS))


@dataclass(frozen=True)
class TimingPlan(GateFaultPlan):
    """Timing errors of one evaluation (see the module docstring).

    period: the clock period, in units of the netlist's nominal critical path delay D (relative) or in delay
    units; delays: "unit" or "cells" (circuits.timing.TABLES); sigma: process variation (log-normal, per gate,
    one chip per seed); delay_scale: every gate slowed by this factor (voltage); energy_scale: the factor of the
    energy per transition (voltage: (V / V_nominal)^2); clocking: "continuous" or "settled"; shuffle: deal the
    vectors in a random order (False: in the order given); dataflow, layout: the order of a layer's products (see
    the module docstring); loop: (input bus, output bus), the accumulator register of an output-stationary
    layout: each dot product's inputs i > 0 take on the input bus the output sampled for input i - 1 (see the
    module docstring); seed: the chip and the order."""

    period: float = math.inf
    relative: bool = True
    delays: str = "unit"
    sigma: float = 0.0
    delay_scale: float = 1.0
    energy_scale: float = 1.0
    clocking: str = "continuous"
    shuffle: bool = True
    dataflow: str = "output-stationary"
    layout: tuple = ()
    loop: tuple = ()
    flip_p: float = 0.0
    seed: int = 0

    def __post_init__(self):
        _check_seed(self.seed)
        if self.flip_p:
            raise NetlistError("a timing plan takes no transient flips (flip_p must be 0)")
        if self.clocking not in CLOCKINGS:
            raise NetlistError(f"clocking must be one of {', '.join(CLOCKINGS)}, got {self.clocking!r}")
        if self.delays not in TABLES:
            raise NetlistError(f"delays must be one of {', '.join(TABLES)}, got {self.delays!r}")
        for name in ("period", "delay_scale", "energy_scale"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0 and not math.isnan(v)):
                raise NetlistError(f"timing plan: {name} must be a positive number, got {v!r}")
        if self.dataflow not in DATAFLOWS:
            raise NetlistError(f"dataflow must be one of {', '.join(DATAFLOWS)}, got {self.dataflow!r}")
        if self.loop and (len(self.loop) != 2 or self.dataflow != "output-stationary"):
            raise NetlistError(f"timing plan: loop must be (input bus, output bus) in the output-stationary dataflow, "
                               f"got {self.loop!r} ({self.dataflow})")
        if not (isinstance(self.sigma, (int, float)) and 0 <= self.sigma < 1):
            raise NetlistError(f"timing plan: sigma must be in [0, 1), got {self.sigma!r}")

    @property
    def none(self) -> bool:
        return math.isinf(self.period)

    def laid_out(self, rows: int, outputs: int, inputs: int) -> TimingPlan:
        """The plan for the products of one layer, v = (s * outputs + o) * inputs + i (see `dataflow`)."""
        return dataclasses.replace(self, layout=(int(rows), int(outputs), int(inputs)))

    def execute(self, netlist: Netlist, planes: np.ndarray, n: int, out: np.ndarray) -> TimingReport:
        """Run the first n vectors of `planes` as timed streams; write the sampled outputs into `out` (output
        planes, as simulate_planes returns them; padding vectors stay 0)."""
        wide = [b for b, w in {**netlist.inputs, **netlist.output_widths}.items() if w > 63]
        if wide:
            raise NetlistError(f"netlist {netlist.name!r}: timing plans take buses up to 63 bits "
                               f"({', '.join(wide)} is wider)")
        rows = unpack_rows(planes, list(netlist.inputs.values()), n)
        values = {b: (to_signed(r.astype(np.int64), w) if netlist.signed else r.astype(np.int64))
                  for (b, w), r in zip(netlist.inputs.items(), rows, strict=True)}
        grid = delay_grid(self.delays)
        D = static_timing(netlist, self.delays).D
        chip = gate_delays(netlist, self.delays, self.sigma, self.seed, grid) if self.sigma else \
            gate_delays(netlist, self.delays)
        D_chip = static_timing(netlist, chip).D
        out[:] = 0
        if n == 0:
            return TimingReport(math.nan, D, D_chip, 0.0, 0.0, np.zeros(netlist.n_gates, np.int64))
        period = self.period * D if self.relative else self.period
        T = max(grid, round(period / self.delay_scale / grid) * grid)  # the chip's time; the period scaled
        index, length = self._streams(n)
        tail = math.ceil((D_chip + chip.max()) / T) + 1 if self.clocking == "continuous" and T < D_chip \
            and not self.loop else 0
        loop = {"feedback": dict([self.loop]), "restart": self.layout[2]} if self.loop else {}
        index = np.concatenate([index, np.repeat(index[:, -1:], tail, axis=1)], axis=1)
        ops = {b: v[index] for b, v in values.items()}
        prev = {b: v[index[:, length - 1]] for b, v in values.items()}
        timed = timed_simulate(netlist, ops, T, chip, self.clocking, previous=prev, **loop)
        settle = 2 * D_chip + 4 * float(chip.max()) + 1  # at least the settling time: every transition counted
        slow = timed_simulate(netlist, ops, math.ceil(settle / grid) * grid, chip, "settled", previous=prev, **loop)
        energy = self.energy_scale * dynamic_energy(netlist, timed.toggles)
        sampled = np.zeros((len(netlist.outputs), n), np.uint64)
        flat = index[:, :length].reshape(-1)
        for k, v in enumerate(timed.outputs.values()):
            sampled[k, flat] = v[:, :length].reshape(-1).astype(np.uint64)  # fillers write their vectors again
        pack_rows(sampled, list(netlist.output_widths.values()), out)
        return TimingReport(T * self.delay_scale, D, D_chip, energy, dynamic_energy(netlist, slow.toggles),
                            timed.toggles)

    def _streams(self, n: int) -> tuple[np.ndarray, int]:
        """(index (streams, length) of the vectors each stream applies, in time order; length): the order
        (random, given, or the dataflow's over `layout`) dealt into consecutive runs."""
        rng = np.random.default_rng([self.seed, 1])
        laid_out = bool(self.layout) and int(np.prod(self.layout)) == n
        if self.loop and not laid_out:
            raise NetlistError(f"timing plan: a loop needs the layout of its {n} vectors, got {self.layout!r}")
        if laid_out:
            grid = np.arange(n).reshape(self.layout)[rng.permutation(self.layout[0]) if self.shuffle else slice(None)]
        if self.loop:  # whole dot products per stream, so that each stream's loop restarts every `inputs`
            dots = grid.reshape(-1, self.layout[2])
            streams = max(1, min(MAX_STREAMS, len(dots)))
            per = -(-len(dots) // streams)
            filled = np.concatenate([dots, dots[:streams * per - len(dots)]])
            return filled.reshape(streams, per * self.layout[2]), per * self.layout[2]
        if laid_out:
            order = (grid if self.dataflow == "output-stationary" else grid.transpose(1, 2, 0)).reshape(-1)
        else:
            order = rng.permutation(n) if self.shuffle else np.arange(n)
        streams = max(1, min(MAX_STREAMS, n // MIN_LENGTH))
        length = -(-n // streams)
        filled = np.concatenate([order, order[:streams * length - n]])
        return filled.reshape(streams, length), length

