"""The multiplier family of the integer engine: exact arithmetic, a netlist's table, the netlist at gate level,
and the processing element (multiplier and accumulator adder at gate level).

Every multiply is sign-magnitude around an unsigned multiplier: product = sgn(a) * sign(w) * MUL(|a|, |w|),
sgn(a) = -1 for a < 0 else +1, sign(w) in {-1, 0, +1}. The netlist must be unsigned with input buses a
(activation magnitude) and b (weight magnitude) and one output bus. `Multiplier(mode, ...)` gives the class of
`mode` (MODES).
"""

from __future__ import annotations

import numpy as np

from circuits import GateFaultPlan, GateMasks, Netlist, TimingPlan, exhaustive
from hardware import gatemac, pe
from hardware.errors import HardwareError
from hardware.tables import exact_accumulate, lut_accumulate, lut_measured, lut_products


class Multiplier:
    """The multiplier of an engine: `Multiplier(mode, netlist, act_bits, mag_bits)` gives the class of `mode`:
    ExactMultiplier ('exact'), TableMultiplier ('lut': a table of the netlist's outputs) or GateMultiplier
    ('gates': the netlist simulated at gate level for every product)."""

    mode = ""
    exact = False  # exact integer arithmetic (the engine may compute whole layers in float instead)
    accumulates = False  # the accumulators are computed in gates too (their errors are measured)
    takes_flips = False  # transient gate flips
    takes_stuck = False  # permanent stuck-at faults of the netlist's gates
    takes_timing = False  # timing errors (circuits.TimingPlan: every product through the timed simulator)
    parts = ("mul",)  # the parts that can take gate faults (run's fault_part)

    def __new__(cls, mode: str = "exact", netlist: Netlist | None = None, act_bits: int = 8, mag_bits: int = 8,
                **options):
        if cls is Multiplier:
            if mode not in MODES:
                raise HardwareError(f"multiplier mode must be one of {', '.join(MODES)}, got {mode!r}")
            cls = MODES[mode]
        return super().__new__(cls)

    def __init__(self, mode: str = "exact", netlist: Netlist | None = None, act_bits: int = 8, mag_bits: int = 8):
        self.netlist, self.act_bits, self.mag_bits = netlist, act_bits, mag_bits
        self.out_bits = act_bits + mag_bits
        self._tables: dict = {}

    @classmethod
    def check(cls, faults: GateFaultPlan, part: str = "mul") -> None:
        """HardwareError unless this kind of multiplier can realise `faults` on `part`."""
        if part not in pe.PARTS:
            raise HardwareError(f"fault_part must be one of {', '.join(pe.PARTS)}, got {part!r}")
        if not faults.none and part not in cls.parts:
            raise HardwareError(f"fault_part {part!r} needs mode 'pe' (the processing element); this multiplier is "
                               f"{cls.mode!r}")
        if isinstance(faults, TimingPlan) and not cls.takes_timing:
            raise HardwareError(f"timing errors need mode 'gates' (the multiplier at gate level); this one is "
                                f"{cls.mode!r}")
        if (faults.flip_p > 0 and not cls.takes_flips) or (faults.permanent and not cls.takes_stuck):
            raise HardwareError(f"gate faults need a netlist multiplier (mode 'gates' for transient flips, 'lut' or "
                               f"'gates' for stuck-at); this one is {cls.mode!r}")

    def gates(self, part: str = "mul") -> int:
        """The gates that take faults placed on `part` (0 without a netlist)."""
        return self.netlist.n_gates if self.netlist is not None else 0

    def check_model(self, acc_bits: int, signed_layers: list[str]) -> None:
        """HardwareError unless this multiplier can run a model with `acc_bits`-bit accumulators whose layers
        `signed_layers` take signed inputs."""

    def table(self, faults: GateFaultPlan | None = None) -> np.ndarray:
        """(2^act_bits, 2^mag_bits) products a * b."""
        return np.arange(1 << self.act_bits)[:, None] * np.arange(1 << self.mag_bits)[None, :]

    def _masks(self, faults: GateFaultPlan | None) -> GateMasks | None:
        """The permanent part of `faults` on the netlist (None: nothing masked, or no netlist)."""
        return None

    def _table_t(self, faults) -> np.ndarray:
        """The table transposed, (2^mag_bits, 2^act_bits) C-contiguous (rows per weight magnitude), int32
        when every product fits."""
        masks = self._masks(faults)
        key = ("t",) if masks is None else ("t", masks.keep.tobytes(), masks.force.tobytes())
        if key not in self._tables:
            if len(self._tables) > 64:
                self._tables.clear()
            table = self.table(faults).T
            self._tables[key] = np.ascontiguousarray(table, np.int32 if table.max() < 2 ** 31 else np.int64)
        return self._tables[key]

    def products(self, a: np.ndarray, mag: np.ndarray, faults: GateFaultPlan) -> np.ndarray:
        """MUL(a[s, i], mag[o, i]) for all rows s, output channels o and inputs i: (N, out, in) int64, a >= 0."""
        return lut_products(a, mag, self.table(faults))

    def accumulate(self, cols: np.ndarray, w: np.ndarray, bias: np.ndarray, faults: GateFaultPlan,
                   signed: bool = False, acc_bits: int = 64, part: str = "mul") -> np.ndarray:
        """bias[o] + sum_i sgn(cols[s, i]) sign(w[o, i]) MUL(|cols[s, i]|, |w[o, i]|): (N, out) int64, correct
        modulo 2^acc_bits. signed: cols may be negative (else every sgn(a) is +1). part: where the faults
        are (see run)."""
        at = np.ascontiguousarray(cols.T)
        acc = np.empty((w.shape[0], cols.shape[0]), np.int32 if acc_bits <= 32 else np.int64)
        lut_accumulate(at, w, self._table_t(faults), bias.astype(acc.dtype), signed, acc)
        return acc.T.astype(np.int64)

    def accumulate_measured(self, cols, w, bias, faults, signed=True, acc_bits=64, part="mul") -> tuple:
        """(accumulate(...), wrong products per row of cols, sum of exact products squared, sum of squared
        product errors): errors against exact arithmetic |a| * |w|, zero weights included."""
        acc, wrong, sig, err = lut_measured(np.ascontiguousarray(cols.T), w, self._table_t(faults), bias)
        return acc.T, wrong, sig, err


class ExactMultiplier(Multiplier):
    """Integer arithmetic (float64 BLAS, exact while every partial sum stays below 2^53; else int64)."""

    mode = "exact"
    exact = True

    def accumulate(self, cols, w, bias, faults, signed=False, acc_bits=64, part="mul"):
        return exact_accumulate(cols, w, bias)

    def accumulate_measured(self, cols, w, bias, faults, signed=True, acc_bits=64, part="mul"):
        sq_a = np.square(cols.astype(np.int64)).sum(axis=0)  # sum of every exact product squared:
        sig = int(sq_a @ np.square(w).sum(axis=0))  # sum_i (sum_s a_si^2) (sum_o w_oi^2)
        return self.accumulate(cols, w, bias, faults), np.zeros(len(cols), np.int64), sig, 0


class TableMultiplier(Multiplier):
    """A netlist's outputs over every operand pair, looked up (permanent stuck-at faults: a faulty table)."""

    mode = "lut"
    takes_stuck = True

    def __init__(self, mode="lut", netlist=None, act_bits=8, mag_bits=8):
        super().__init__(mode, netlist, act_bits, mag_bits)
        if netlist is None:
            raise HardwareError(f"multiplier mode {self.mode!r} needs a netlist")
        if netlist.signed or set(netlist.inputs) != {"a", "b"} or len(netlist.outputs) != 1:
            raise HardwareError(f"multiplier netlist {netlist.name!r} must be unsigned with inputs a, b and one output;"
                               f" it has inputs {list(netlist.inputs)} and outputs {list(netlist.outputs)}")
        if netlist.inputs["a"] < act_bits or netlist.inputs["b"] < mag_bits:
            raise HardwareError(f"multiplier netlist {netlist.name!r} takes a[{netlist.inputs['a']}] x "
                               f"b[{netlist.inputs['b']}]; the model needs a[{act_bits}] x b[{mag_bits}]")
        self.out_bus = next(iter(netlist.outputs))
        self.out_bits = len(netlist.outputs[self.out_bus])
        if netlist.n_input_bits > 20 and self.mode == "lut":
            raise HardwareError(f"multiplier netlist {netlist.name!r}: a lookup table of 2^{netlist.n_input_bits} "
                               "entries is too large; use mode 'gates'")

    def _masks(self, faults):
        masks = None if faults is None else faults.masks(self.netlist.n_gates, self.netlist.gate_index)
        return None if masks is None else GateMasks(*masks)

    def table(self, faults=None) -> np.ndarray:
        """(2^act_bits, 2^mag_bits) products of the netlist (with the permanent faults of `faults`, if any)."""
        masks = self._masks(faults)
        key = () if masks is None else (masks.keep.tobytes(), masks.force.tobytes())
        if key not in self._tables:
            table = np.zeros((1 << self.act_bits, 1 << self.mag_bits), np.int64)
            for ins, outs in exhaustive(self.netlist, faults=masks):
                a, b = ins["a"], ins["b"]
                ok = (a < (1 << self.act_bits)) & (b < (1 << self.mag_bits))
                table[a[ok], b[ok]] = outs[self.out_bus][ok]
            if len(self._tables) > 64:
                self._tables.clear()
            self._tables[key] = table
        return self._tables[key]


class GateMultiplier(TableMultiplier):
    """The netlist simulated at gate level for every product (hardware in the loop); with stuck-at faults
    alone (no flips) the faulty netlist's table gives the same products faster. Products are simulated in
    (row s, output o, input i) order, vector v = (s * out + o) * in + i of the layer's flip stream."""

    mode = "gates"
    takes_flips = True
    takes_timing = True

    def __init__(self, mode="gates", netlist=None, act_bits=8, mag_bits=8):
        super().__init__(mode, netlist, act_bits, mag_bits)
        self._buffers: dict = {}  # bit-plane arrays reused between layers and passes

    def products(self, a, mag, faults):
        if faults.permanent and faults.flip_p == 0:
            return super().products(a, mag, faults)
        return gatemac.products(self.netlist, a, mag, faults, self._buffers)

    def accumulate(self, cols, w, bias, faults, signed=False, acc_bits=64, part="mul"):
        if faults.permanent and faults.flip_p == 0:
            return super().accumulate(cols, w, bias, faults, signed, acc_bits)
        return gatemac.accumulate(self.netlist, cols, w, bias, faults, signed, self._buffers)

    def accumulate_measured(self, cols, w, bias, faults, signed=True, acc_bits=64, part="mul"):
        if faults.permanent and faults.flip_p == 0:
            return super().accumulate_measured(cols, w, bias, faults)
        return gatemac.accumulate_measured(self.netlist, cols, w, bias, faults, self._buffers)


class ProcessingElement(GateMultiplier):
    """The processing element in the loop (hardware/pe.py): every multiply-accumulate step acc <- acc + a * w,
    in order over the inputs of each dot product, through the netlist (the multiplier) and an accumulator adder
    of acc_bits (the model's accumulator width; `adder` 'ripple' or 'kogge_stone'; signed_a: the adder takes
    sgn(a), needed by layers with signed inputs), accumulators held as bit planes between steps. Faults go on
    the multiplier's gates, the adder's or all of them (run's fault_part); `gates(part)` counts them."""

    mode = "pe"
    accumulates = True
    takes_timing = False  # its adder's timing is not modelled yet
    parts = pe.PARTS

    def __init__(self, mode="pe", netlist=None, act_bits=8, mag_bits=8, *, acc_bits: int = 32,
                 adder: str = "ripple", signed_a: bool = False):
        super().__init__(mode, netlist, act_bits, mag_bits)
        if not 2 <= acc_bits <= 62:
            raise HardwareError(f"processing element acc_bits must be in 2..62, got {acc_bits}")
        self.acc_bits, self.signed_a = acc_bits, signed_a
        self.adder = pe.adder_netlist(acc_bits, self.out_bits, signed_a, adder)

    def check_model(self, acc_bits, signed_layers):
        if self.acc_bits != acc_bits:
            raise HardwareError(f"processing element has a {self.acc_bits}-bit accumulator; the model's is "
                                f"{acc_bits} bits (pass acc_bits={acc_bits})")
        if signed_layers and not self.signed_a:
            raise HardwareError(f"layer(s) {signed_layers} take signed inputs: the processing element needs "
                                "signed_a=True")

    def gates(self, part: str = "all") -> int:
        """The gates that take faults placed on `part`."""
        if part not in pe.PARTS:
            raise HardwareError(f"fault_part must be one of {', '.join(pe.PARTS)}, got {part!r}")
        return (self.netlist.n_gates if part != "add" else 0) + (self.adder.n_gates if part != "mul" else 0)

    def _run(self, cols, w, bias, faults, signed, acc_bits, part, measure):
        if acc_bits != self.acc_bits:
            raise HardwareError(f"processing element has a {self.acc_bits}-bit accumulator; the model's is {acc_bits}")
        mul_f, add_f = pe.split_faults(faults, part, self.netlist, self.adder)
        return pe.accumulate(self.netlist, self.adder, cols, w, bias, mul_f, add_f, signed, acc_bits,
                             self._buffers, measure)

    def accumulate(self, cols, w, bias, faults, signed=False, acc_bits=64, part="mul"):
        return self._run(cols, w, bias, faults, signed, acc_bits, part, False)

    def accumulate_measured(self, cols, w, bias, faults, signed=True, acc_bits=64, part="mul"):
        return self._run(cols, w, bias, faults, signed, acc_bits, part, True)


MODES = {"exact": ExactMultiplier, "lut": TableMultiplier, "gates": GateMultiplier, "pe": ProcessingElement}
