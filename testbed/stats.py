"""Confidence intervals and sample sizes for fault campaigns.

Rates: Wilson score intervals (not the normal approximation, which fails near 0 and 1). Other metrics
and rates whose samples are correlated within a trial (stuck-at faults shared by all samples): percentile
bootstrap over trials. Sample size of a fault campaign: Leveugle et al., DATE 2009. Mutual information
from a confusion matrix: plug-in estimate with the Miller-Madow bias correction.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np


def z_value(confidence: float = 0.95) -> float:
    """Two-sided standard normal quantile t for a confidence level (1.96 for 95%)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    if n == 0:
        return 0.0, 1.0
    z = z_value(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap(values, confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-trial values."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return math.nan, math.nan
    if len(v) == 1:
        return float(v[0]), float(v[0])
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), (resamples, len(v)))].mean(axis=1)
    a = (1 - confidence) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def leveugle_sample_size(population: int, margin: float = 0.01, confidence: float = 0.95, p: float = 0.5) -> int:
    """Faults to inject to estimate a proportion within `margin` (Leveugle et al. 2009):
    n = N / (1 + e^2 (N - 1) / (t^2 p (1 - p)))."""
    t = z_value(confidence)
    return math.ceil(population / (1 + margin ** 2 * (population - 1) / (t * t * p * (1 - p))))


def mutual_information(labels, predictions, n_classes: int) -> tuple[float, float]:
    """I(label; prediction) in bits from labels and predictions: see mutual_information_from_confusion."""
    from sklearn.metrics import confusion_matrix

    return mutual_information_from_confusion(confusion_matrix(labels, predictions, labels=list(range(n_classes))))


def mutual_information_from_confusion(confusion) -> tuple[float, float]:
    """I(label; prediction) in bits from a confusion matrix (rows: labels): (plug-in, Miller-Madow corrected).

    The correction subtracts (K_x - 1)(K_y - 1) / (2 N ln 2) with K the observed numbers of classes.
    """
    cm = np.asarray(confusion, dtype=np.float64)
    n = cm.sum()
    if n == 0:
        return 0.0, 0.0
    pxy = cm / n
    px, py = pxy.sum(axis=1), pxy.sum(axis=0)
    nz = pxy > 0
    plug = float((pxy[nz] * np.log2(pxy[nz] / np.outer(px, py)[nz])).sum())
    kx, ky = int((px > 0).sum()), int((py > 0).sum())
    corrected = plug - (kx - 1) * (ky - 1) / (2 * n * math.log(2))
    return plug, max(0.0, corrected)


def entropy_bits(counts) -> float:
    c = np.asarray(counts, dtype=np.float64)
    c = c[c > 0]
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum())


def binary_capacity(ber) -> float:
    """Sum over bits of 1 - h2(ber_k): the information a word keeps when each bit is a binary symmetric
    channel with its measured error rate (an upper bound on I(golden; noisy) for that word)."""
    total = 0.0
    for e in np.asarray(ber, dtype=np.float64):
        e = min(max(e, 0.0), 1.0)
        h = 0.0 if e in (0.0, 1.0) else -(e * math.log2(e) + (1 - e) * math.log2(1 - e))
        total += 1 - h
    return total
