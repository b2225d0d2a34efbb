"""Task metrics of a point, pooled over its trial rows, each with a confidence interval.

Rates pool their counts over trials (Wilson interval) when the noise is transient; under stuck-at faults
the samples of one trial share their faults, so the interval is a bootstrap over trials instead.
Intervals are conditional on the fixed inputs (the exhaustive vector set, the test set): they bound what
the noise does to these inputs, not the generalisation error of the network. A network's accuracy is its
noise-free accuracy plus the inputs the noise made right minus those it made wrong; the interval combines
the Wilson intervals of those two rates (so where the noise changed nothing it is the Wilson bound of zero
events: about 3.8/N wide, e.g. 0.35 points at N = 1,080 samples, not zero).
"""

from __future__ import annotations

import math

import numpy as np

from circuits.metrics import snr_bits
from testbed.stats import binary_capacity, bootstrap, mutual_information_from_confusion, wilson


def _rate(rows, key, per_trial_bootstrap: bool, confidence: float = 0.95):
    k = sum(r[key] for r in rows)
    n = sum(r["n"] for r in rows)
    value = k / n if n else math.nan
    if per_trial_bootstrap and len(rows) > 1:
        lo, hi = bootstrap([r[key] / r["n"] for r in rows], confidence)
    else:
        lo, hi = wilson(k, n, confidence)
    return value, lo, hi


def _snr(rows) -> float:
    return snr_bits(sum(r["signal_power"] for r in rows), sum(r["error_power"] for r in rows))


def circuit_metrics(rows: list[dict], width: int, stuck: bool, confidence: float = 0.95) -> dict:
    """exact_rate, ber, mred (vs golden), error_snr_bits (output word), capacity_bits; each (value, lo, hi)
    for rates and plain values otherwise."""
    n = sum(r["n"] for r in rows)
    bit_errors = np.sum([r["bit_errors"] for r in rows], axis=0)
    ber = bit_errors / n
    total_bits = n * width
    return {
        "exact_rate": _rate(rows, "correct", stuck, confidence),
        "ber": (float(bit_errors.sum() / total_bits), *wilson(int(bit_errors.sum()), total_bits, confidence)),
        "ber_per_bit": ber.tolist(),
        "mred": sum(r["rel_error_sum"] for r in rows) / n,
        "error_snr_bits": _snr(rows),
        "capacity_bits": binary_capacity(ber),
        "trials": len(rows), "samples": n, **_energy(rows),
    }


def network_metrics(rows: list[dict], stuck: bool, confidence: float = 0.95) -> dict:
    """accuracy, agreement, digital_task_rate (inputs whose every product was exact), mutual information
    (plug-in and Miller-Madow corrected, bits), error_snr_bits at the site."""
    confusion = np.sum([r["confusion"] for r in rows], axis=0)
    plug, corrected = mutual_information_from_confusion(confusion)
    n = sum(r["n"] for r in rows)
    accuracy = _rate(rows, "correct", stuck, confidence)
    if not stuck and n:
        clean = (sum(r["correct"] for r in rows) + sum(r["lost"] for r in rows) - sum(r["gained"] for r in rows)) / n
        lost_lo, lost_hi = wilson(sum(r["lost"] for r in rows), n, confidence)
        gain_lo, gain_hi = wilson(sum(r["gained"] for r in rows), n, confidence)
        accuracy = (accuracy[0], max(0.0, clean + gain_lo - lost_hi), min(1.0, clean + gain_hi - lost_lo))
    return {
        "accuracy": accuracy,
        "agreement": _rate(rows, "agree", stuck, confidence),
        **({"digital_task_rate": _rate(rows, "all_products_exact", stuck, confidence)}
           if rows and "all_products_exact" in rows[0] else {}),
        "mi_bits": corrected, "mi_plugin_bits": plug,
        "error_snr_bits": _snr(rows),
        "confusion": confusion.tolist(),
        "trials": len(rows), "samples": int(confusion.sum()), **_energy(rows),
    }


def _energy(rows) -> dict:
    """energy_ratio: the mean over trials of the dynamic energy per operation relative to nominal, when the
    rows measured it (timing noise); {} otherwise."""
    values = [r["energy_ratio"] for r in rows if "energy_ratio" in r]
    return {"energy_ratio": float(np.mean(values))} if values else {}


def energy_point(pooled: dict) -> dict:
    """The energy of a pooled level as a curve point keeps it ({} when not measured)."""
    return {"energy_ratio": pooled["energy_ratio"]} if "energy_ratio" in pooled else {}
