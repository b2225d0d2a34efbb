"""Confidence intervals and sample sizes for fault campaigns.

Rates: Wilson score intervals (not the normal approximation, which fails near 0 and 1). Other metrics
and rates whose samples are correlated within a trial (stuck-at faults shared by all samples): percentile
bootstrap over trials. Sample size of a fault campaign: Leveugle et al., DATE 2009. Mutual information
from a confusion matrix: plug-in estimate with the per-entropy Miller-Madow bias correction. Where a
response crosses a threshold: a binomial dose-response fit (complementary log-log in the severity axis),
see `crossing_fit`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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

    Miller-Madow corrects each entropy, H_MM = H_plugin + (m - 1) / (2 N ln 2) with m its non-empty cells, so
    I_MM = I_plugin + (m_X + m_Y - m_XY - 1) / (2 N ln 2) (clipped at 0).
    """
    cm = np.asarray(confusion, dtype=np.float64)
    n = cm.sum()
    if n == 0:
        return 0.0, 0.0
    pxy = cm / n
    px, py = pxy.sum(axis=1), pxy.sum(axis=0)
    nz = pxy > 0
    plug = float((pxy[nz] * np.log2(pxy[nz] / np.outer(px, py)[nz])).sum())
    mx, my, mxy = int((px > 0).sum()), int((py > 0).sum()), int(nz.sum())
    corrected = plug + (mx + my - mxy - 1) / (2 * n * math.log(2))
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


@dataclass(frozen=True)
class Crossing:
    """Where a fitted dose-response curve crosses a threshold, on the severity axis: x with its standard error
    and interval [lo, hi]; slope (cloglog units per severity unit); dispersion:
    the Pearson estimate used to scale the binomial variance; points: the observations fitted."""

    x: float
    se: float
    lo: float
    hi: float
    slope: float
    dispersion: float
    points: int


def cloglog_fit(x, k, n, iterations: int = 100) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Binomial GLM with the complementary log-log link, log(-log(1 - P)) = a + b x, fitted by iteratively
    reweighted least squares to k failures of n at x (k may be fractional, e.g. net losses). This is the
    exact form of "fails when any of many independent faults strikes": P = 1 - exp(-e^a 10^(b' x)).
    Returns (coefficients (a, b), their covariance scaled by the Pearson dispersion, dispersion), or None
    when the data do not determine both."""
    x, k, n = (np.asarray(v, dtype=np.float64) for v in (x, k, n))
    if len(np.unique(x)) < 2:
        return None
    design = np.column_stack([np.ones_like(x), x])
    y = np.clip(k / n, 0.0, 1.0)
    # start: a weighted least-squares line through the pooled rate of each distinct x
    xs = np.unique(x)
    kp, n_p = (np.array([v[x == u].sum() for u in xs]) for v in (k, n))
    y0 = np.clip((kp + 0.5) / (n_p + 1), 1e-9, 1 - 1e-9)
    pooled = np.column_stack([np.ones_like(xs), xs]) * np.sqrt(n_p)[:, None]
    beta = np.linalg.lstsq(pooled, np.log(-np.log1p(-y0)) * np.sqrt(n_p), rcond=None)[0]

    def deviance(b):
        m = np.clip(-np.expm1(-np.exp(np.clip(design @ b, -40, 3.5))), 1e-15, 1 - 1e-15)
        return -2 * float(np.sum(k * np.log(m) + (n - k) * np.log1p(-m)))
    current = deviance(beta)
    for _ in range(iterations):
        eta = np.clip(design @ beta, -40, 3.5)
        mu = np.clip(-np.expm1(-np.exp(eta)), 1e-15, 1 - 1e-15)
        dmu = np.exp(eta - np.exp(eta))
        w = n * dmu ** 2 / (mu * (1 - mu))
        z = eta + (y - mu) / np.maximum(dmu, 1e-300)
        try:
            new = np.linalg.solve(design.T @ (design * w[:, None]), design.T @ (w * z))
        except np.linalg.LinAlgError:
            return None
        for _halving in range(30):  # step-halving: never accept a step that raises the deviance
            if np.all(np.isfinite(new)) and deviance(new) <= current + 1e-9 * max(1.0, abs(current)):
                break
            new = (beta + new) / 2
        else:
            return None
        done = np.max(np.abs(new - beta)) < 1e-10
        beta, current = new, deviance(new)
        if done:
            break
    else:
        return None
    eta = np.clip(design @ beta, -40, 3.5)
    mu = np.clip(-np.expm1(-np.exp(eta)), 1e-15, 1 - 1e-15)
    dmu = np.exp(eta - np.exp(eta))
    info = design.T @ (design * (n * dmu ** 2 / (mu * (1 - mu)))[:, None])
    df = len(x) - 2
    pearson = float(np.sum((k - n * mu) ** 2 / (n * mu * (1 - mu))))
    # quasi-binomial dispersion, never below the binomial's (an underdispersed estimate would narrow the interval)
    dispersion = max(1.0, pearson / df) if df > 0 else 1.0
    try:
        return beta, np.linalg.inv(info) * dispersion, dispersion
    except np.linalg.LinAlgError:
        return None


def fit_window(x, k, n, threshold: float) -> np.ndarray:
    """Which observations a local fit of a failure rate rising through `threshold` uses: the severities whose
    pooled rate lies between threshold/5 and min(5 threshold, 0.5), where the link is close to linear in
    log dose for the usual curves, plus the nearest severity on each side."""
    x, k, n = (np.asarray(v, dtype=np.float64) for v in (x, k, n))
    levels = np.unique(x)
    rate = np.array([k[x == v].sum() / n[x == v].sum() for v in levels])
    inside = np.flatnonzero((rate >= threshold / 5) & (rate <= min(5 * threshold, 0.5)))
    if len(inside) == 0:  # the curve jumps over the band: the last level under it and the first over it
        above = np.flatnonzero(rate >= threshold)
        inside = np.array([above[0] - 1, above[0]]) if len(above) and above[0] > 0 else np.array([], int)
    if len(inside) == 0:
        return np.zeros(len(x), bool)
    lo, hi = max(inside.min() - 1, 0), min(inside.max() + 1, len(levels) - 1)
    return (x >= levels[lo]) & (x <= levels[hi])


def crossing_fit(x, k, n, threshold: float, confidence: float = 0.95) -> Crossing | None:
    """The severity x where a failure rate k/n, rising with x, crosses `threshold`: a complementary log-log fit
    over the observations of fit_window, with a delta-method interval (quasi-binomial: dispersion between
    trials widens it). None when the window holds fewer than two severities or no rising curve fits."""
    x, k, n = (np.asarray(v, dtype=np.float64) for v in (x, k, n))
    use = fit_window(x, k, n, threshold)
    target = math.log(-math.log1p(-threshold))
    fit = cloglog_fit(x[use], k[use], n[use])
    if fit is None or not fit[0][1] > 0 or not np.all(np.isfinite(fit[1])):
        return None
    (a, b), cov, dispersion = fit
    xc = (target - a) / b
    grad = np.array([-1 / b, -(target - a) / b ** 2])
    se = float(math.sqrt(max(grad @ cov @ grad, 0.0)))
    z = z_value(confidence)
    return Crossing(float(xc), se, float(xc - z * se), float(xc + z * se), float(b), dispersion, int(use.sum()))
