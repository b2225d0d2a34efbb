"""Error models of a multiplier's product under gate-level noise, measured by simulation, for training.

`error_model(netlist, "bitflip", p)` simulates the unsigned multiplier netlist (inputs a, b; one output bus) on
every operand pair (a, b), `trials` times each, with transient gate flips at p per gate and product (the noise
of the `gate` / `mac-gate` sites), and keeps per pair: how often the product was wrong, how often each output bit
flipped, and K error values (faulty product minus the netlist's fault-free product, as integers) drawn with
replacement from the pair's observed errors. The model of the error of one product at pair (a, b): wrong with
probability rate[a, b] = wrong / trials, and then a value drawn uniformly from errors[a, b, :] (the pair's
empirical distribution: one draw keeps a flip's carry pattern whole). `sample_bits` is the alternative that
flips each output bit independently at its per-pair rate (it keeps per-bit rates, not their joint law).

Conditioning (`coarsen`): 'pair' (the exact operand pair), 'magnitude' (pooled within bins of the bit lengths of
a and b) or 'none' (pooled over all pairs); `fidelity` compares a model with gate-level simulation on an operand
stream (a histogram of pairs, e.g. recorded from a network) by error power, wrong-product rate and per-bit rates,
each with its Monte-Carlo interval. Another level q of the same kind is reached to first order by
`rate_at(q)`: a pair wrong whenever one of its S sensitive gates flips, 1 - (1 - q)^S with S from the measured
rate (exact while q * gates << 1, where double flips are rare; the errors' law is kept).

Built models are cached as .npz (no pickle) under cache_root()/error_models, keyed by the netlist's
fingerprint, kind, level, trials, K and seed, with their sha256 beside them (a file that fails is rebuilt with
a one-line warning).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import dataclass

import numpy as np

from circuits import GateFaults, Netlist, simulate, simulate_planes
from circuits.cache import cache_root, read_verified, usable_dir, warn, write_verified
from circuits.simulate import pack_operands, unpack_outputs
from hardware.errors import HardwareError

VERSION = "1"
KINDS = ("bitflip",)  # noise kinds an error model is measured under (gate flips at p per gate and product)
CONDITIONINGS = ("pair", "magnitude", "none")
REPEATS = 64  # copies of the exhaustive operand set per simulation call


@dataclass(frozen=True, eq=False)
class ErrorModel:
    """The error of a multiplier's product at every operand pair (a, b) (a: index of bus a, b: of bus b).

    table (A, B): the netlist's fault-free products; wrong (A, B): trials with a wrong product; bit_counts
    (A, B, out_bits): trials in which output bit k (bit 0 least significant) flipped; errors (A, B, K): error
    values (faulty - fault-free, int) drawn from the pair's observed errors (0 where it had none)."""

    circuit: str
    fingerprint: str
    kind: str
    level: float
    gates: int
    trials: int
    conditioning: str
    table: np.ndarray
    wrong: np.ndarray
    bit_counts: np.ndarray
    errors: np.ndarray

    @property
    def rate(self) -> np.ndarray:
        """(A, B) probability that the product at (a, b) is wrong."""
        return self.wrong / self.trials

    @property
    def out_bits(self) -> int:
        return self.bit_counts.shape[2]

    def rate_at(self, level: float | None = None) -> np.ndarray:
        """(A, B) wrong-product probability at `level` (None: the measured one), to first order: 1 - (1 - q)^S
        with S = log(1 - rate) / log(1 - level) sensitive gates per pair."""
        rate = self.rate
        if level is None or level == self.level:
            return rate
        if not 0 <= level < 1:
            raise HardwareError(f"error model level must be in [0, 1), got {level}")
        sensitive = np.log1p(-np.minimum(rate, 1 - 1e-12)) / math.log1p(-self.level)
        return -np.expm1(sensitive * math.log1p(-level))

    def power(self) -> np.ndarray:
        """(A, B) mean squared error per product under the model (integer units squared)."""
        return self.rate * np.mean(np.square(self.errors.astype(np.float64)), axis=2)

    def bit_rates(self, level: float | None = None) -> np.ndarray:
        """(A, B, out_bits) per-bit flip probabilities under the model's error values (at `level`: rate_at)."""
        diff = (self.table[:, :, None].astype(np.int64) + self.errors) ^ self.table[:, :, None]
        rate = self.rate_at(level)
        return np.stack([rate * ((diff >> j) & 1).mean(axis=2) for j in range(self.out_bits)], axis=2)

    def sample(self, a: np.ndarray, b: np.ndarray, rng: np.random.Generator, level: float | None = None
               ) -> np.ndarray:
        """Error values (int64) of products at operand arrays a, b (same shape) drawn from the model."""
        a, b = np.asarray(a), np.asarray(b)
        hit = rng.random(a.shape) < self.rate_at(level)[a, b]
        pick = rng.integers(0, self.errors.shape[2], a.shape)
        return np.where(hit, self.errors[a, b, pick], 0).astype(np.int64)

    def sample_bits(self, a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Error values with every output bit flipped independently at its per-pair rate (the per-bit model)."""
        a, b = np.asarray(a), np.asarray(b)
        rates = self.bit_counts[a, b] / self.trials
        mask = (rng.random(rates.shape) < rates).astype(np.int64) << np.arange(self.out_bits)
        clean = self.table[a, b].astype(np.int64)
        return (clean ^ mask.sum(axis=-1)) - clean

    def to_npz(self) -> bytes:
        buf = io.BytesIO()
        meta = {k: getattr(self, k) for k in ("circuit", "fingerprint", "kind", "level", "gates", "trials",
                                              "conditioning")}
        np.savez_compressed(buf, meta=np.array(json.dumps(meta)), table=self.table, wrong=self.wrong,
                            bit_counts=self.bit_counts, errors=self.errors)
        return buf.getvalue()

    @classmethod
    def from_npz(cls, data: bytes) -> ErrorModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return cls(**meta, table=z["table"], wrong=z["wrong"], bit_counts=z["bit_counts"], errors=z["errors"])


def _check(netlist: Netlist) -> None:
    if netlist.signed or set(netlist.inputs) != {"a", "b"} or len(netlist.outputs) != 1:
        raise HardwareError(f"error model: netlist {netlist.name!r} must be an unsigned multiplier with inputs a, b "
                            f"and one output; it has inputs {list(netlist.inputs)}, outputs {list(netlist.outputs)}")
    if netlist.n_input_bits > 20:
        raise HardwareError(f"error model: netlist {netlist.name!r} has {netlist.n_input_bits} input bits; at most 20")


def measure(netlist: Netlist, kind: str, level: float, trials: int = 1024, k: int = 32, seed: int = 0) -> ErrorModel:
    """Simulate every operand pair `trials` times (rounded up to a multiple of REPEATS) under noise `kind` at
    `level` (see the module docstring)."""
    _check(netlist)
    if kind not in KINDS:
        raise HardwareError(f"error model: noise kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not 0 < level < 1 or trials < 1 or k < 1:
        raise HardwareError(f"error model: need 0 < level < 1, trials >= 1, k >= 1; got {level}, {trials}, {k}")
    wa, wb = netlist.inputs["a"], netlist.inputs["b"]
    bus = next(iter(netlist.outputs))
    out_bits = len(netlist.outputs[bus])
    n_pairs = 1 << (wa + wb)
    idx = np.arange(n_pairs)
    a, b = idx >> wb, idx & ((1 << wb) - 1)  # pair index a * B + b
    table = simulate(netlist, a=a, b=b)[bus].astype(np.int64)
    wrong = np.zeros(n_pairs, np.int64)
    bit_counts = np.zeros((n_pairs, out_bits), np.int64)
    where, values = [], []
    planes, n = pack_operands(netlist, {"a": np.tile(a, REPEATS), "b": np.tile(b, REPEATS)})
    buf = None
    for chunk in range(-(-trials // REPEATS)):
        faults = GateFaults(level, seed=seed * 1_000_003 + chunk)
        buf = simulate_planes(netlist, planes, faults=faults, out=buf, n=n)
        err = unpack_outputs(netlist, buf, n)[bus].astype(np.int64) - np.tile(table, REPEATS)
        hit = np.flatnonzero(err)
        pair = hit % n_pairs
        wrong += np.bincount(pair, minlength=n_pairs)
        diff = (err[hit] + table[pair]) ^ table[pair]
        for j in range(out_bits):
            bit_counts[:, j] += np.bincount(pair, weights=(diff >> j) & 1, minlength=n_pairs).astype(np.int64)
        where.append(pair)
        values.append(err[hit])
    trials = -(-trials // REPEATS) * REPEATS
    errors = _draw(np.concatenate(where), np.concatenate(values), wrong, k, np.random.default_rng(seed))
    return ErrorModel(netlist.name, netlist.fingerprint(), kind, float(level), netlist.n_gates, trials, "pair",
                      table.reshape(1 << wa, 1 << wb), wrong.reshape(1 << wa, 1 << wb),
                      bit_counts.reshape(1 << wa, 1 << wb, out_bits), errors.reshape(1 << wa, 1 << wb, k))


def _draw(group: np.ndarray, values: np.ndarray, counts: np.ndarray, k: int, rng: np.random.Generator
          ) -> np.ndarray:
    """(len(counts), k) draws with replacement from the values observed in each group (0 for empty groups)."""
    order = np.argsort(group, kind="stable")
    values = values[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pick = starts[:, None] + np.floor(rng.random((len(counts), k)) * counts[:, None]).astype(np.int64)
    return np.where(counts[:, None] > 0, values[np.minimum(pick, max(len(values) - 1, 0))] if len(values) else 0,
                    0).astype(np.int32)


def groups(shape: tuple[int, int], conditioning: str) -> np.ndarray:
    """(A, B) group index of every pair: its own ('pair'), the bit lengths of a and b ('magnitude'), one ('none')."""
    if conditioning not in CONDITIONINGS:
        raise HardwareError(f"error model conditioning must be one of {', '.join(CONDITIONINGS)}, got {conditioning!r}")
    a, b = np.arange(shape[0])[:, None], np.arange(shape[1])[None, :]
    if conditioning == "pair":
        return a * shape[1] + b
    if conditioning == "none":
        return np.zeros(shape, np.int64)
    la = np.ceil(np.log2(a + 1)).astype(np.int64)
    lb = np.ceil(np.log2(b + 1)).astype(np.int64)
    return la * 64 + lb


def coarsen(model: ErrorModel, conditioning: str, seed: int = 0) -> ErrorModel:
    """The model pooled within the groups of `conditioning` (uniform weight over the group's pairs): every pair of a
    group gets the group's rate, per-bit counts and K error values drawn from the group's errors."""
    g = groups(model.wrong.shape, conditioning).ravel()
    _, g = np.unique(g, return_inverse=True)
    size = np.bincount(g)
    wrong = model.wrong.ravel()
    n_err = np.bincount(g, weights=wrong)
    bits = np.stack([np.bincount(g, weights=model.bit_counts.reshape(-1, model.out_bits)[:, j])
                     for j in range(model.out_bits)], axis=1)
    rng = np.random.default_rng(seed)
    k = model.errors.shape[2]
    # a pair's draw: a pair of its group weighted by its wrong count, then one of that pair's K errors
    order = np.argsort(g, kind="stable")
    cum = np.cumsum(wrong[order].astype(np.float64))
    base = np.concatenate([[0.0], np.cumsum(np.bincount(g, weights=wrong))])[:-1]
    u = base[g][:, None] + rng.random((len(g), k)) * n_err[g][:, None]
    src = order[np.minimum(np.searchsorted(cum, u, side="right"), len(order) - 1)]
    errors = np.where(n_err[g][:, None] > 0, model.errors.reshape(len(g), k)[src, rng.integers(0, k, (len(g), k))], 0)
    shape = model.wrong.shape
    scale = model.trials * size[g]  # pooled counts over size * trials trials, kept per pair as counts of `trials`
    return ErrorModel(model.circuit, model.fingerprint, model.kind, model.level, model.gates, model.trials,
                      conditioning, model.table, (n_err[g] / scale * model.trials).reshape(shape),
                      (bits[g] / scale[:, None] * model.trials).reshape(*shape, model.out_bits),
                      errors.reshape(*shape, k).astype(np.int32))


def _key(netlist: Netlist, kind: str, level: float, trials: int, k: int, seed: int) -> str:
    text = json.dumps([VERSION, netlist.fingerprint(), kind, repr(float(level)), trials, k, seed])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def error_model(netlist: Netlist, kind: str = "bitflip", level: float = 1e-4, trials: int = 1024, k: int = 32,
                seed: int = 0, cache: bool = True) -> ErrorModel:
    """The pair-conditioned error model of `netlist` under `kind` at `level` (measure), from the cache when it was
    built before."""
    if not cache:
        return measure(netlist, kind, level, trials, k, seed)
    path = usable_dir(cache_root() / "error_models") / f"{_key(netlist, kind, level, trials, k, seed)}.npz"
    data = read_verified(path, "error model", "rebuilding it")
    if data is not None:
        try:
            return ErrorModel.from_npz(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            warn(f"cached error model {path} cannot be loaded ({type(exc).__name__}); rebuilding it")
    model = measure(netlist, kind, level, trials, k, seed)
    write_verified(path, model.to_npz())
    return model


def stream(hist: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n operand pairs (a, b) drawn from a histogram of pairs (A, B) (e.g. a network's recorded multiplies)."""
    p = np.asarray(hist, np.float64).ravel()
    idx = rng.choice(p.size, size=n, p=p / p.sum())
    return idx // hist.shape[1], idx % hist.shape[1]


@dataclass(frozen=True)
class Statistic:
    """One statistic of the product error on a stream: gate-level and model values with standard errors."""

    name: str
    gate: float
    gate_se: float
    model: float
    model_se: float

    @property
    def z(self) -> float:
        se = math.hypot(self.gate_se, self.model_se)
        return abs(self.gate - self.model) / se if se > 0 else (0.0 if self.gate == self.model else math.inf)


def fidelity(model: ErrorModel, netlist: Netlist, hist: np.ndarray, n: int = 1 << 21, seed: int = 1,
             level: float | None = None) -> list[Statistic]:
    """Error power (mean squared error per product), wrong-product rate and per-bit flip rates on n products drawn
    from `hist`, by gate-level simulation (fresh flips, seed) and by the model's exact expectation on the same
    histogram. Standard errors: the simulation's sampling error over the n products; the model's, its build error
    (its trials per pair, and its K draws of the pair's errors) weighted by the stream."""
    if model.fingerprint != netlist.fingerprint():
        raise HardwareError(f"error model of {model.circuit!r} does not belong to netlist {netlist.name!r}")
    level = model.level if level is None else level
    rng = np.random.default_rng(seed)
    a, b = stream(hist, n, rng)
    bus = next(iter(netlist.outputs))
    faults = GateFaults(level, seed=seed)
    out = simulate(netlist, a=a, b=b, faults=faults)[bus].astype(np.int64)
    clean = model.table[a, b].astype(np.int64)
    err = (out - clean).astype(np.float64)
    flips = ((out ^ clean)[:, None] >> np.arange(model.out_bits)) & 1
    w = np.asarray(hist, np.float64)
    w = w / w.sum()
    rate = model.rate_at(level)
    e2 = np.square(model.errors.astype(np.float64))
    sq, quad = e2.mean(axis=2), np.square(e2).mean(axis=2)
    k = model.errors.shape[2]

    def expect(per_pair_mean, per_pair_var):
        return float((w * per_pair_mean).sum()), float(np.sqrt((w ** 2 * per_pair_var).sum()))

    stats = [Statistic("error power", float(np.mean(err ** 2)), float(np.std(err ** 2) / math.sqrt(n)),
                       *expect(rate * sq, (rate * quad - (rate * sq) ** 2) / model.trials
                               + rate ** 2 * np.var(e2, axis=2) / k)),
             Statistic("wrong rate", float(np.mean(err != 0)), float(np.std(err != 0) / math.sqrt(n)),
                       *expect(rate, rate * (1 - rate) / model.trials))]
    bit_rates = model.bit_rates(level)
    for j in range(model.out_bits):
        r = bit_rates[:, :, j]
        stats.append(Statistic(f"bit {j}", float(flips[:, j].mean()), float(flips[:, j].std() / math.sqrt(n)),
                               *expect(r, r * (1 - r) / model.trials)))
    return stats
