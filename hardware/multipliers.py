"""The multiplier family of the integer engine: exact arithmetic, a netlist's table, the netlist at gate level,
and the processing element (multiplier and accumulator adder at gate level).

Two arithmetics (ARITHMETICS, the `arithmetic` option). 'sign-magnitude' (the default): every multiply is
sign-magnitude around an unsigned multiplier, product = sgn(a) * sign(w) * MUL(|a|, |w|), sgn(a) = -1 for a < 0
else +1, sign(w) in {-1, 0, +1} (a zero weight adds nothing); the netlist must be unsigned with input buses a
(activation magnitude) and b (weight magnitude) and one output bus. 'twos-complement': the operands are two's
complement words (a: the netlist's a width, at least act_bits + 1 bits so that unsigned activations and the
signed inputs of layers after residual adds fit; b: the weight, |w| < 2^(width - 1)) multiplied by a signed
netlist (Baugh-Wooley, Booth: `signed` True, inputs a, b, one output bus, its product read as two's complement),
every product added to the two's-complement accumulator, a zero weight's too. Exact arithmetic gives the same
products either way. `Multiplier(mode, ...)` gives the class of `mode` (MODES).
"""

from __future__ import annotations

import numpy as np

from circuits import GateFaultPlan, GateMasks, Netlist, TimingPlan, exhaustive, sparse_pays_off
from hardware import gatemac, pe
from hardware.errors import HardwareError
from hardware.tables import (
    exact_accumulate,
    exact_measured,
    lut_accumulate,
    lut_measured,
    lut_products,
    tc_accumulate,
    tc_measured,
)

ARITHMETICS = ("sign-magnitude", "twos-complement")


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
    timed_parts = ("mul",)  # the parts that can take timing errors

    def __new__(cls, mode: str = "exact", netlist: Netlist | None = None, act_bits: int = 8, mag_bits: int = 8,
                **options):
        if cls is Multiplier:
            if mode not in MODES:
                raise HardwareError(f"multiplier mode must be one of {', '.join(MODES)}, got {mode!r}")
            cls = MODES[mode]
        return super().__new__(cls)

    def __init__(self, mode: str = "exact", netlist: Netlist | None = None, act_bits: int = 8, mag_bits: int = 8,
                 *, arithmetic: str = "sign-magnitude"):
        if arithmetic not in ARITHMETICS:
            raise HardwareError(f"multiplier arithmetic must be one of {', '.join(ARITHMETICS)}, got {arithmetic!r}")
        self.netlist, self.act_bits, self.mag_bits = netlist, act_bits, mag_bits
        self.arithmetic, self.twos = arithmetic, arithmetic == "twos-complement"
        self.out_bits = act_bits + mag_bits
        self._tables: dict = {}

    def widths(self) -> tuple[int, int]:
        """The table's operand widths (index bits of a and b): act_bits and mag_bits (sign-magnitude), the two's
        complement words (the netlist's a and b, or act_bits + 1 and mag_bits + 1 without one)."""
        if not self.twos:
            return self.act_bits, self.mag_bits
        if self.netlist is not None:
            return self.netlist.inputs["a"], self.netlist.inputs["b"]
        return self.act_bits + 1, self.mag_bits + 1

    def indices(self, cols: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The table indices of operands cols (N, in) and w (out, in): |cols|, |w| (sign-magnitude) or their
        two's-complement bit patterns."""
        if not self.twos:
            return np.abs(cols), np.abs(w)
        wa, wb = self.widths()
        return cols.astype(np.int64) & ((1 << wa) - 1), w.astype(np.int64) & ((1 << wb) - 1)

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
        if isinstance(faults, TimingPlan) and part not in cls.timed_parts:
            raise HardwareError(f"timing errors on fault_part {part!r}: its gates have no timing model (timed "
                                f"parts: {', '.join(cls.timed_parts)})")
        if (faults.flip_p > 0 and not cls.takes_flips) or (faults.permanent and not cls.takes_stuck):
            raise HardwareError(f"gate faults need a netlist multiplier (mode 'gates' for transient flips, 'lut' or "
                               f"'gates' for stuck-at); this one is {cls.mode!r}")

    def gates(self, part: str = "mul") -> int:
        """The gates that take faults placed on `part` (0 without a netlist)."""
        return self.netlist.n_gates if self.netlist is not None else 0

    def check_model(self, acc_bits: int, signed_layers: list[str]) -> None:
        """HardwareError unless this multiplier can run a model with `acc_bits`-bit accumulators whose layers
        `signed_layers` take signed inputs."""

    def attach(self, layers: list) -> None:
        """Learn the model's multiply layers (networks.graph.IntLayer: mult, shift, clamp) before its passes."""

    def requantize(self, acc: np.ndarray, layer, faults: GateFaultPlan, part: str) -> np.ndarray | None:
        """A layer's outputs (rows, out) from its accumulators (rows, out) by this datapath's requantizer gates
        with `faults` on `part`; None where the engine requantizes (no requantizer in the loop for them)."""
        return None

    def direct(self, faults: GateFaultPlan) -> bool:
        """Whether accumulate_direct gives this multiplier's accumulators under `faults` (the engine then never
        materialises a layer's columns)."""
        return False

    def accumulate_direct(self, exact: np.ndarray, take, shape: tuple, w: np.ndarray, faults: GateFaultPlan,
                          signed: bool = False, acc_bits: int = 64, part: str = "mul") -> np.ndarray:
        """accumulate's result (rows, out) from the exact accumulators `exact` (rows, out) int64 and the
        columns' operands take(s, i) -> cols[s, i] (columns of `shape` (rows, in), not materialised); only
        where direct(faults)."""
        raise HardwareError(f"multiplier mode {self.mode!r} has no direct accumulation")

    def table(self, faults: GateFaultPlan | None = None) -> np.ndarray:
        """(2^wa, 2^wb) products a * b over the table's indices (widths(); two's complement: the bit patterns
        of signed a and b)."""
        wa, wb = self.widths()
        a, b = np.arange(1 << wa), np.arange(1 << wb)
        if self.twos:
            a, b = np.where(a >> (wa - 1), a - (1 << wa), a), np.where(b >> (wb - 1), b - (1 << wb), b)
        return a[:, None] * b[None, :]

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
            self._tables[key] = np.ascontiguousarray(table, np.int32 if np.abs(table).max() < 2 ** 31 else np.int64)
        return self._tables[key]

    def products(self, a: np.ndarray, mag: np.ndarray, faults: GateFaultPlan) -> np.ndarray:
        """MUL(a[s, i], mag[o, i]) for all rows s, output channels o and inputs i: (N, out, in) int64, a and mag
        table indices (`indices`): magnitudes, or two's-complement bit patterns (signed products)."""
        return lut_products(a, mag, self.table(faults))

    def accumulate(self, cols: np.ndarray, w: np.ndarray, bias: np.ndarray, faults: GateFaultPlan,
                   signed: bool = False, acc_bits: int = 64, part: str = "mul") -> np.ndarray:
        """bias[o] + sum_i sgn(cols[s, i]) sign(w[o, i]) MUL(|cols[s, i]|, |w[o, i]|): (N, out) int64, correct
        modulo 2^acc_bits. signed: cols may be negative (else every sgn(a) is +1). part: where the faults
        are (see run)."""
        at = np.ascontiguousarray(cols.T)
        acc = np.empty((w.shape[0], cols.shape[0]), np.int32 if acc_bits <= 32 else np.int64)
        if self.twos:
            wa, wb = self.widths()
            tc_accumulate(at, w, self._table_t(faults), bias.astype(acc.dtype), (1 << wa) - 1, (1 << wb) - 1, acc)
        else:
            lut_accumulate(at, w, self._table_t(faults), bias.astype(acc.dtype), signed, acc)
        return acc.T.astype(np.int64)

    def accumulate_measured(self, cols, w, bias, faults, signed=True, acc_bits=64, part="mul") -> tuple:
        """(accumulate(...), wrong products per row of cols, sum of exact products squared, sum of squared
        product errors): errors against exact arithmetic (|a| * |w|, or a * w in two's complement), zero weights
        included."""
        at = np.ascontiguousarray(cols.T)
        if self.twos:
            wa, wb = self.widths()
            acc, wrong, sig, err = tc_measured(at, w, self._table_t(faults), bias, (1 << wa) - 1, (1 << wb) - 1)
        else:
            acc, wrong, sig, err = lut_measured(at, w, self._table_t(faults), bias)
        return acc.T, wrong, sig, err


class ExactMultiplier(Multiplier):
    """Integer arithmetic (float64 BLAS, exact while every partial sum stays below 2^53; else int64)."""

    mode = "exact"
    exact = True

    def direct(self, faults):
        return True

    def accumulate_direct(self, exact, take, shape, w, faults, signed=False, acc_bits=64, part="mul"):
        return exact

    def accumulate(self, cols, w, bias, faults, signed=False, acc_bits=64, part="mul"):
        return exact_accumulate(cols, w, bias)

    def accumulate_measured(self, cols, w, bias, faults, signed=True, acc_bits=64, part="mul"):
        return exact_measured(cols, w, bias)


class TableMultiplier(Multiplier):
    """A netlist's outputs over every operand pair, looked up (permanent stuck-at faults: a faulty table)."""

    mode = "lut"
    takes_stuck = True

    def __init__(self, mode="lut", netlist=None, act_bits=8, mag_bits=8, *, arithmetic="sign-magnitude"):
        super().__init__(mode, netlist, act_bits, mag_bits, arithmetic=arithmetic)
        if netlist is None:
            raise HardwareError(f"multiplier mode {self.mode!r} needs a netlist")
        if self.twos:
            self._check_signed(netlist, act_bits)
        elif netlist.signed or set(netlist.inputs) != {"a", "b"} or len(netlist.outputs) != 1:
            raise HardwareError(f"multiplier netlist {netlist.name!r} must be unsigned with inputs a, b and one output;"
                               f" it has inputs {list(netlist.inputs)} and outputs {list(netlist.outputs)}")
        elif netlist.inputs["a"] < act_bits or netlist.inputs["b"] < mag_bits:
            raise HardwareError(f"multiplier netlist {netlist.name!r} takes a[{netlist.inputs['a']}] x "
                               f"b[{netlist.inputs['b']}]; the model needs a[{act_bits}] x b[{mag_bits}]")
        self.out_bus = next(iter(netlist.outputs))
        self.out_bits = len(netlist.outputs[self.out_bus])
        if netlist.n_input_bits > 20 and self.mode == "lut":
            raise HardwareError(f"multiplier netlist {netlist.name!r}: a lookup table of 2^{netlist.n_input_bits} "
                               "entries is too large; use mode 'gates'")

    def _check_signed(self, netlist: Netlist, act_bits: int) -> None:
        """HardwareError unless `netlist` is a two's-complement multiplier the model's activations fit; sets the
        weight magnitude bits (b's width - 1)."""
        if not netlist.signed or set(netlist.inputs) != {"a", "b"} or len(netlist.outputs) != 1:
            raise HardwareError(f"multiplier netlist {netlist.name!r} must be signed (two's complement) with inputs a,"
                                f" b and one output for arithmetic 'twos-complement'; it has inputs "
                                f"{list(netlist.inputs)}, outputs {list(netlist.outputs)}, signed {netlist.signed}")
        if netlist.inputs["a"] < act_bits + 1:
            raise HardwareError(f"multiplier netlist {netlist.name!r} takes a[{netlist.inputs['a']}] (two's "
                                f"complement); the model's {act_bits}-bit activations need a[{act_bits + 1}]")
        self.mag_bits = netlist.inputs["b"] - 1

    def _masks(self, faults):
        masks = None if faults is None else faults.masks(self.netlist.n_gates, self.netlist.gate_index)
        return None if masks is None else GateMasks(*masks)

    def _exact_table(self, faults) -> bool:
        """Whether the table under `faults`' permanent faults is exact arithmetic's (cached)."""
        masks = self._masks(faults)
        key = ("exact",) if masks is None else ("exact", masks.keep.tobytes(), masks.force.tobytes())
        if key not in self._tables:
            self._tables[key] = bool(np.array_equal(self.table(faults), Multiplier.table(self)))
        return self._tables[key]

    def direct(self, faults):
        """A table that is exact arithmetic's (the same accumulators as the exact pass)."""
        return not faults.flip_p and self._exact_table(faults)

    def accumulate_direct(self, exact, take, shape, w, faults, signed=False, acc_bits=64, part="mul"):
        return exact

    def accumulate(self, cols, w, bias, faults, signed=False, acc_bits=64, part="mul"):
        if TableMultiplier.direct(self, faults):  # an exact table: exact arithmetic's accumulators
            return exact_accumulate(cols, w, bias)
        return super().accumulate(cols, w, bias, faults, signed, acc_bits, part)

    def table(self, faults=None) -> np.ndarray:
        """(2^wa, 2^wb) products of the netlist over the table's indices (widths(); with the permanent faults of
        `faults`, if any)."""
        masks = self._masks(faults)
        key = () if masks is None else (masks.keep.tobytes(), masks.force.tobytes())
        if key not in self._tables:
            wa, wb = self.widths()
            table = np.zeros((1 << wa, 1 << wb), np.int64)
            for ins, outs in exhaustive(self.netlist, faults=masks):
                a, b = ins["a"], ins["b"]
                if self.twos:  # signed operands: their bit patterns
                    a, b = a & ((1 << wa) - 1), b & ((1 << wb) - 1)
                ok = (a < (1 << wa)) & (b < (1 << wb))
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

    def __init__(self, mode="gates", netlist=None, act_bits=8, mag_bits=8, *, arithmetic="sign-magnitude",
                 sparse: bool = True):
        super().__init__(mode, netlist, act_bits, mag_bits, arithmetic=arithmetic)
        self._buffers: dict = {}  # bit-plane arrays reused between layers and passes
        self.sparse = sparse  # rare flips by the sparse path where it pays off (the same bits, faster)

    def _sparse(self, faults) -> bool:
        """Whether `faults` run by the sparse path (circuits.sparse): the fault-free products (exact arithmetic
        where the netlist's table is exact, else the table), the touched vectors simulated with their flips;
        bit for bit the full path's result."""
        return self.sparse and self.netlist.n_input_bits <= 20 and sparse_pays_off(self.netlist, faults)

    def direct(self, faults):
        """Rare flips by the sparse path on a table that is exact arithmetic's."""
        return self._sparse(faults) and self._exact_table(faults)

    def accumulate_direct(self, exact, take, shape, w, faults, signed=False, acc_bits=64, part="mul"):
        return gatemac.sparse_correct(self.netlist, self._table_t(faults), exact, shape, w, faults, take=take)

    def _fault_free(self, cols, w, bias, faults, signed, measure):
        """accumulate (measure: accumulate_measured) with `faults`' permanent faults alone: exact arithmetic where
        that table is exact, else the table (int64 accumulators)."""
        if self._exact_table(faults):
            return exact_measured(cols, w, bias) if measure else exact_accumulate(cols, w, bias)
        if measure:
            return Multiplier.accumulate_measured(self, cols, w, bias, faults)
        return Multiplier.accumulate(self, cols, w, bias, faults, signed)

    def products(self, a, mag, faults):
        if faults.permanent and faults.flip_p == 0:
            return super().products(a, mag, faults)
        if self._sparse(faults):
            return gatemac.sparse_products(self.netlist, self._table_t(faults), a, mag, faults)
        return gatemac.products(self.netlist, a, mag, faults, self._buffers)

    def accumulate(self, cols, w, bias, faults, signed=False, acc_bits=64, part="mul"):
        if faults.permanent and faults.flip_p == 0:
            return super().accumulate(cols, w, bias, faults, signed, acc_bits)
        if self._sparse(faults):
            base = self._fault_free(cols, w, bias, faults, signed, False)
            return gatemac.sparse_correct(self.netlist, self._table_t(faults), base, cols, w, faults)
        if self.twos:
            return gatemac.tc_accumulate(self.netlist, *self.indices(cols, w), bias, faults, self._buffers)
        return gatemac.accumulate(self.netlist, cols, w, bias, faults, signed, self._buffers)

    def accumulate_measured(self, cols, w, bias, faults, signed=True, acc_bits=64, part="mul"):
        if faults.permanent and faults.flip_p == 0:
            return super().accumulate_measured(cols, w, bias, faults)
        if self._sparse(faults):
            base = self._fault_free(cols, w, bias, faults, signed, True)
            return gatemac.sparse_correct(self.netlist, self._table_t(faults), base, cols, w, faults, True)
        if self.twos:
            prod = gatemac.products(self.netlist, *self.indices(cols, w), faults, self._buffers)
            return gatemac.tc_measured(prod, cols, w, bias)
        return gatemac.accumulate_measured(self.netlist, cols, w, bias, faults, self._buffers)


class ProcessingElement(GateMultiplier):
    """The processing element in the loop (hardware/pe.py): every multiply-accumulate step acc <- acc + a * w,
    in order over the inputs of each dot product, through the netlist (the multiplier) and an accumulator adder
    of acc_bits (the model's accumulator width; `adder` 'ripple' or 'kogge_stone'; signed_a: the adder takes
    sgn(a), needed by layers with signed inputs; in two's complement the adder adds the signed product, a zero
    weight's too), accumulators held as bit planes between steps. Timing errors (circuits.TimingPlan) run the
    multiplier, the adder or both through the timed simulator (pe.timed_accumulate). Faults go on
    the multiplier's gates, the adder's or all of them (run's fault_part); `gates(part)` counts them."""

    mode = "pe"
    accumulates = True
    takes_timing = True  # the multiplier and the adder (pe.timed_accumulate); not the requantizer
    parts = pe.PARTS
    timed_parts = pe.TIMED_PARTS

    def __init__(self, mode="pe", netlist=None, act_bits=8, mag_bits=8, *, arithmetic="sign-magnitude",
                 acc_bits: int = 32, adder: str = "ripple", signed_a: bool = False, sparse: bool = True):
        super().__init__(mode, netlist, act_bits, mag_bits, arithmetic=arithmetic, sparse=sparse)
        if not 2 <= acc_bits <= 62:
            raise HardwareError(f"processing element acc_bits must be in 2..62, got {acc_bits}")
        self.acc_bits, self.signed_a = acc_bits, signed_a or self.twos  # two's complement takes any sign
        self.adder = pe.adder_netlist(acc_bits, self.out_bits, signed_a, adder, self.twos)
        self.req: Netlist | None = None  # the requantizer (attach): of the ReLU layers in req_layers
        self.req_layers: set = set()

    def attach(self, layers):
        """The requantizer in the loop: one netlist for the ReLU layers (clamp (0, 2^n - 1), mult >= 0) that share
        the first one's n and shift (the others, and layers without that clamp, are requantized by the engine),
        mult as wide as the largest of theirs."""
        relu = [lay for lay in layers if lay.clamp is not None and lay.clamp[0] == 0 and lay.clamp[1] > 0
                and (lay.clamp[1] + 1) & lay.clamp[1] == 0 and int(np.min(lay.mult)) >= 0]
        if not relu:
            return
        n, shift = int(relu[0].clamp[1]).bit_length(), int(relu[0].shift)
        same = [lay for lay in relu if int(lay.clamp[1]).bit_length() == n and int(lay.shift) == shift]
        mult_bits = max(1, max(int(np.max(lay.mult)).bit_length() for lay in same))
        if shift <= self.acc_bits + mult_bits:
            self.req = pe.requantizer_netlist(n, self.acc_bits, mult_bits, shift)
            self.req_layers = {lay.name for lay in same}

    def requantize(self, acc, layer, faults, part):
        if part not in pe.REQ_PARTS or faults.none or layer.name not in self.req_layers:
            return None
        req_f = pe.split_faults(faults, part, self.netlist, self.adder, self.req)[2]
        return pe.requantize(self.req, acc, layer.mult, req_f)

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
        req = self.req.n_gates if self.req is not None and part in pe.REQ_PARTS else 0
        return (self.netlist.n_gates if part not in ("add", "req") else 0) + \
            (self.adder.n_gates if part not in ("mul", "req") else 0) + req

    def _run(self, cols, w, bias, faults, signed, acc_bits, part, measure):
        if acc_bits != self.acc_bits:
            raise HardwareError(f"processing element has a {self.acc_bits}-bit accumulator; the model's is {acc_bits}")
        if isinstance(faults, TimingPlan):
            return pe.timed_accumulate(self.netlist, self.adder, cols, w, bias, faults, part, acc_bits, self._buffers,
                                       measure)
        mul_f, add_f, _ = pe.split_faults(faults, part, self.netlist, self.adder, self.req)
        if self._sparse_element(faults):
            base = self._fault_free(cols, w, bias, faults, signed, measure)
            return pe.sparse_accumulate(self.netlist, self.adder, self._table_t(faults), base, cols, w, bias, mul_f,
                                        add_f, acc_bits, self._exact_table(faults), measure)
        return pe.accumulate(self.netlist, self.adder, cols, w, bias, mul_f, add_f, signed, acc_bits,
                             self._buffers, measure)

    def direct(self, faults):
        return False

    def _sparse_element(self, faults) -> bool:
        """Whether rare transient flips alone run by the sparse path (pe.sparse_accumulate: bit for bit the
        full path's result)."""
        return (self.sparse and not faults.permanent and self.netlist.n_input_bits <= 20 and 0 < faults.flip_p
                and self.gates("all") * faults.flip_p < pe.SPARSE_TOUCHED)

    def accumulate(self, cols, w, bias, faults, signed=False, acc_bits=64, part="mul"):
        return self._run(cols, w, bias, faults, signed, acc_bits, part, False)

    def accumulate_measured(self, cols, w, bias, faults, signed=True, acc_bits=64, part="mul"):
        return self._run(cols, w, bias, faults, signed, acc_bits, part, True)


MODES = {"exact": ExactMultiplier, "lut": TableMultiplier, "gates": GateMultiplier, "pe": ProcessingElement}
