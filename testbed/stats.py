"""Confidence intervals and sample sizes for fault campaigns.

Rates: Wilson score intervals (not the normal approximation, which fails near 0 and 1). Other metrics
and rates whose samples are correlated within a trial (stuck-at faults shared by all samples): percentile
bootstrap over trials. Sample size of a fault campaign: Leveugle et al., DATE 2009. Mutual information
from a confusion matrix: plug-in estimate with the per-entropy Miller-Madow bias correction. Where a
response crosses a threshold: quasi-likelihood estimating equations of a dose-response curve (binomial variance
times a dispersion, complementary log-log in the severity axis; net counts may be negative) with Fieller's
interval, see `crossing_fit`. Populations of trained members: the mean break-down with a t interval over members
(`population_breakdown`) and gaps between populations with a sign verdict (`population_gap`).
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


def quantile(confidence: float = 0.95, df: float = math.inf) -> float:
    """Two-sided quantile of Student's t with df degrees of freedom for a confidence level (the standard normal's
    when df is infinite: 1.96 for 95%)."""
    if not math.isfinite(df):
        return z_value(confidence)
    from scipy.special import stdtrit  # (scipy.stats takes seconds to import)

    return float(stdtrit(df, 0.5 + confidence / 2))


@dataclass(frozen=True)
class QuasiFit:
    """A root of the quasi-binomial estimating equations with the complementary log-log link,
    log(-log(1 - mu)) = a + b x. coef: (a, b); cov: their covariance, the inverse Fisher information times the
    dispersion; dispersion: max(1, pearson, replicate), the factor on the binomial variance mu (1 - mu) / n;
    df: degrees of freedom of the estimate that set it (inf when the binomial's 1 did); pearson: the squared
    Pearson residuals' information-weighted mean (_dispersion); replicate: the between-trial estimate at
    repeated severities (NaN without repeats, see replicate_dispersion)."""

    coef: np.ndarray
    cov: np.ndarray
    dispersion: float
    df: float
    pearson: float
    replicate: float


_ETA = (-60.0, 5.0)  # the linear predictor's range: mu from 1e-26 to 1 - 1e-64; a fit reaching an end diverged


def _link(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mu, e^eta) of the complementary log-log link, computed without cancellation at either end."""
    e = np.exp(eta)
    return -np.expm1(-e), e


def _quasi_loglik(beta, design, k, n) -> float:
    """sum k log mu + (n - k) log(1 - mu): the quasi-log-likelihood of the binomial variance, whose gradient in
    (a, b) is the estimating function; defined for any real k (a net count may be negative)."""
    mu, e = _link(np.clip(design @ beta, *_ETA))
    return float(np.sum(k * np.log(mu) - (n - k) * e))


def _information(n, mu) -> np.ndarray:
    """Fisher information weight n mu'^2 / (mu (1 - mu)) of an observation under the complementary log-log link
    (about n mu for small mu)."""
    e = -np.log1p(-mu)
    return n * e * e * (1 - mu) / mu


def _dispersion(terms: np.ndarray, weights: np.ndarray, lost: int) -> tuple[float, float]:
    """A dispersion estimate from squared Pearson residuals `terms` (each has mean equal to the dispersion), each
    weighted by its observation's information: sum(w t) / sum(w) times N / (N - lost) for `lost` fitted
    parameters; its degrees of freedom: Kish's effective number of observations (sum w)^2 / sum w^2 times the
    share (N - lost) / N the fit leaves (N - lost for equal weights). Rare-event terms (a few expected failures,
    heavy-tailed) weigh little, as they weigh little in the crossing."""
    size = len(terms)
    if size <= lost:
        return math.nan, 0.0
    value = float((weights * terms).sum() / weights.sum()) * size / (size - lost)
    return value, float(weights.sum() ** 2 / (weights ** 2).sum()) * (size - lost) / size


def replicate_dispersion(x, k, n, mu=None) -> tuple[float, float]:
    """Between-trial dispersion from severities tested more than once, free of any curve's lack of fit: squared
    residuals n (y - ybar)^2 / (mu (1 - mu)) of each observation from the pooled rate ybar of its severity,
    weighted as in _dispersion (one parameter lost per severity). mu: the variance's rate per observation (a
    fitted curve's); default the pooled rate, kept within [1 / (2 N), 1 - 1 / (2 N)] for N samples there.
    Returns (estimate, degrees of freedom); (NaN, 0) without repeats."""
    x, k, n = (np.asarray(v, dtype=np.float64) for v in (x, k, n))
    terms, weights, levels = [], [], 0
    for v in np.unique(x):
        at = x == v
        if at.sum() < 2:
            continue
        pooled, size = k[at].sum() / n[at].sum(), n[at].sum()
        m = np.clip(pooled, 0.5 / size, 1 - 0.5 / size) if mu is None else np.asarray(mu, dtype=np.float64)[at]
        terms.append(n[at] * (k[at] / n[at] - pooled) ** 2 / (m * (1 - m)))
        weights.append(_information(n[at], m) * np.ones(int(at.sum())))
        levels += 1
    if not levels:
        return math.nan, 0.0
    return _dispersion(np.concatenate(terms), np.concatenate(weights), levels)


def cloglog_fit(x, k, n, iterations: int = 60) -> QuasiFit | None:
    """Solve the quasi-likelihood estimating equations sum_i n_i mu'_i (y_i - mu_i) / V(mu_i) (1, x_i) = 0,
    V = mu (1 - mu) (binomial variance, up to the dispersion), y = k / n, with the complementary log-log link
    P = 1 - exp(-e^(a + b x)): the exact form of "fails when any of many independent faults strikes". k may be
    fractional or negative (a net count: inputs lost minus inputs gained); the equations only need E[y] = mu.
    Fisher scoring with step-halving on the quasi-log-likelihood. None when the data do not determine both
    coefficients: fewer than two severities, or no finite root (e.g. a step with nothing between its sides)."""
    x, k, n = (np.asarray(v, dtype=np.float64) for v in (x, k, n))
    if len(np.unique(x)) < 2:
        return None
    design = np.column_stack([np.ones_like(x), x])
    # start: a weighted least-squares line through the pooled rate of each distinct x
    xs = np.unique(x)
    kp, n_p = (np.array([v[x == u].sum() for u in xs]) for v in (k, n))
    y0 = np.clip((kp + 0.5) / (n_p + 1), 1e-9, 1 - 1e-9)
    pooled = np.column_stack([np.ones_like(xs), xs]) * np.sqrt(n_p)[:, None]
    beta = np.linalg.lstsq(pooled, np.log(-np.log1p(-y0)) * np.sqrt(n_p), rcond=None)[0]
    current = _quasi_loglik(beta, design, k, n)
    for _ in range(iterations):
        mu, e = _link(np.clip(design @ beta, *_ETA))
        score = design.T @ (n * e * (k / n - mu) / mu)  # n mu' / V (y - mu), mu' = e (1 - mu)
        info = design.T @ (design * (n * e * e * (1 - mu) / mu)[:, None])  # n mu'^2 / V
        try:
            new = beta + np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            return None
        for _halving in range(40):  # never accept a step that lowers the quasi-log-likelihood
            if np.all(np.isfinite(new)) and _quasi_loglik(new, design, k, n) >= current - 1e-12 * abs(current):
                break
            new = (beta + new) / 2
        else:
            return None
        done = np.max(np.abs(new - beta)) < 1e-9 * (1 + np.max(np.abs(beta)))
        beta, current = new, _quasi_loglik(new, design, k, n)
        if done:
            break
    else:
        return None
    eta = design @ beta
    if eta.min() <= _ETA[0] + 1 or eta.max() >= _ETA[1] - 0.5:  # the root lies at infinity: not determined
        return None
    mu = np.minimum(_link(eta)[0], 1 - 1e-15)  # a rate that rounds to 1 keeps a finite variance
    weights = _information(n, mu)
    info = design.T @ (design * weights[:, None])
    pearson, pearson_df = _dispersion((k - n * mu) ** 2 / (n * mu * (1 - mu)), weights, 2)
    replicate, rep_df = replicate_dispersion(x, k, n, mu)
    # never below the binomial's (an underdispersed estimate would narrow the interval)
    dispersion, df = max((1.0, math.inf), (pearson, pearson_df), (replicate, rep_df), key=lambda d: _or(d[0], 0.0))
    try:
        cov = np.linalg.inv(info) * dispersion
    except np.linalg.LinAlgError:
        return None
    return QuasiFit(beta, cov, float(dispersion), float(df), pearson, replicate)


def _or(value: float, default: float) -> float:
    return value if math.isfinite(value) else default


@dataclass(frozen=True)
class Crossing:
    """Where a fitted dose-response curve crosses a threshold, on the severity axis: x with its delta-method
    standard error se and its Fieller interval [lo, hi]; slope (cloglog units per severity unit); dispersion:
    the factor on the binomial variance (see QuasiFit), df its degrees of freedom (the interval uses Student's t
    with them; the normal when inf); points: the observations fitted."""

    x: float
    se: float
    lo: float
    hi: float
    slope: float
    dispersion: float
    points: int
    df: float = math.inf


def fit_window(x, k, n, threshold: float, rate=None) -> np.ndarray:
    """Which observations a local fit of a failure rate rising through `threshold` uses: the severities whose
    rate lies between threshold/5 and min(5 threshold, 0.5), where the link is close to linear in log dose for
    the usual curves, plus the nearest severity on each side. rate: a function of severity (a fitted curve);
    default each severity's pooled rate."""
    x, k, n = (np.asarray(v, dtype=np.float64) for v in (x, k, n))
    levels = np.unique(x)
    if rate is None:
        rate = np.array([k[x == v].sum() / n[x == v].sum() for v in levels])
    else:
        rate = rate(levels)
    inside = np.flatnonzero((rate >= threshold / 5) & (rate <= min(5 * threshold, 0.5)))
    if len(inside) == 0:  # the curve jumps over the band: the last level under it and the first over it
        above = np.flatnonzero(rate >= threshold)
        inside = np.array([above[0] - 1, above[0]]) if len(above) and above[0] > 0 else np.array([], int)
    if len(inside) == 0:
        return np.zeros(len(x), bool)
    lo, hi = max(inside.min() - 1, 0), min(inside.max() + 1, len(levels) - 1)
    return (x >= levels[lo]) & (x <= levels[hi])


def crossing_fit(x, k, n, threshold: float, confidence: float = 0.95) -> Crossing | None:
    """The severity x where a failure rate k/n, rising with x, crosses `threshold`: the quasi-likelihood
    complementary log-log fit (cloglog_fit) over the observations of fit_window, x = (c - a) / b with
    c = log(-log(1 - threshold)). Interval: Fieller's, the x where |a + b x - c| <= t sqrt(Var(a + b x)), with
    the covariance scaled by the dispersion max(1, Pearson, replicate) and t of that estimate's degrees of
    freedom; se: the delta method's. None when the window holds fewer than two severities, no rising curve
    fits, or the slope is not distinguishable from zero at this confidence (Fieller's set is then unbounded)."""
    x, k, n = (np.asarray(v, dtype=np.float64) for v in (x, k, n))
    use = fit_window(x, k, n, threshold)
    fit = cloglog_fit(x[use], k[use], n[use])
    if fit is not None and fit.coef[1] > 0:  # the window again from the fitted curve: chance highs and lows of
        (a, b) = fit.coef  # single levels would otherwise pull levels in or out, and bias the crossing to them
        again = fit_window(x, k, n, threshold, lambda v: _link(np.clip(a + b * v, *_ETA))[0])
        if not np.array_equal(again, use):
            use, fit = again, cloglog_fit(x[again], k[again], n[again])
    if fit is None or not fit.coef[1] > 0 or not np.all(np.isfinite(fit.cov)):
        return None
    (a, b), ((vaa, vab), (_, vbb)) = fit.coef, fit.cov
    d = a - math.log(-math.log1p(-threshold))
    q = quantile(confidence, fit.df)
    # Fieller: (d + b x)^2 <= q^2 (vaa + 2 x vab + x^2 vbb), i.e. lead x^2 + 2 half x + const <= 0
    lead, half, const = b * b - q * q * vbb, d * b - q * q * vab, d * d - q * q * vaa
    if not lead > 0:
        return None
    root = math.sqrt(max(half * half - lead * const, 0.0))
    xc = -d / b
    grad = np.array([-1 / b, d / b ** 2])
    se = float(math.sqrt(max(grad @ fit.cov @ grad, 0.0)))
    return Crossing(float(xc), se, float((-half - root) / lead), float((-half + root) / lead), float(b), fit.dispersion,
                    int(use.sum()), fit.df)


def rate_side(k: float, n: float, threshold: float, dispersion: float = 1.0, confidence: float = 0.95,
              df: float = math.inf) -> int:
    """Whether a pooled rate k/n is decidedly above (+1) or below (-1) `threshold`, or neither (0): the score test
    of rate = threshold with the binomial variance at the threshold times `dispersion` (Wilson's test with
    n / dispersion samples; each side at (1 - confidence) / 2, Student's t with df when the dispersion is
    estimated). k may be negative (a net count)."""
    z = (k / n - threshold) / math.sqrt(dispersion * threshold * (1 - threshold) / n)
    q = quantile(confidence, df)
    return 1 if z > q else (-1 if z < -q else 0)


class _Record:
    """A record whose to_dict() gives its fields, a non-finite float as None (JSON has no NaN)."""

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Population(_Record):
    """A population's break-down on the severity axis (log10 p, or bits for SNR axes): mean over members with the
    t interval [lo, hi] (df = members - 1); se: its standard error sd / sqrt(members); sd: the spread of the
    members' estimates; within_se: root mean square of the members' own standard errors (NaN when not given);
    covers: what the interval covers, in words."""

    mean: float
    se: float
    lo: float
    hi: float
    members: int
    sd: float
    within_se: float
    covers: str


def population_breakdown(member_levels, member_ses=None, confidence: float = 0.95) -> Population:
    """The break-down of a population of trained members (e.g. one per training seed): the mean of the members'
    break-downs on a linear severity scale (log10 p for bit-error rates, or SNR in bits; never the probability
    itself), with a Student-t interval over members. It covers the between-member
    variation: the spread of members drawn by the same recipe, which contains each member's own estimation error
    (member_ses, reported as within_se, need not be added), so it covers the mean over the recipe's members, not
    only over the ones drawn. A member without a finite break-down (censored: only a bound) leaves mean and
    interval NaN; one member leaves the interval NaN."""
    v = np.asarray(member_levels, dtype=np.float64)
    ses = np.asarray(member_ses, dtype=np.float64) if member_ses is not None else np.full(len(v), np.nan)
    within = float(np.sqrt(np.mean(ses ** 2))) if len(ses) and np.all(np.isfinite(ses)) else math.nan
    m = len(v)
    if m == 0 or not np.all(np.isfinite(v)):
        bad = ", ".join(str(i) for i in np.flatnonzero(~np.isfinite(v)))
        covers = f"nothing: members {bad} have no finite break-down (censored)" if bad else "nothing: no members"
        return Population(math.nan, math.nan, math.nan, math.nan, m, math.nan, within, covers)
    mean = float(v.mean())
    if m == 1:
        return Population(mean, math.nan, math.nan, math.nan, 1, math.nan, within,
                          "nothing: one member has no between-member variation to measure")
    sd = float(v.std(ddof=1))
    se = sd / math.sqrt(m)
    half = quantile(confidence, m - 1) * se
    return Population(mean, se, mean - half, mean + half, m, sd, within,
                      f"between-member variation: Student t over {m} members ({m - 1} df)")


@dataclass(frozen=True)
class PopulationGap(_Record):
    """Mean of population a minus mean of population b on the severity axis (decades, or bits; positive when a
    breaks down at more noise), with its t interval [lo, hi] on df degrees of freedom; paired: members matched by
    seed (t over the differences) or not (Welch); verdict: 'decided (>0)', 'decided (<0)' or 'undecided' (the
    interval holds zero, or there is none)."""

    value: float
    lo: float
    hi: float
    df: float
    paired: bool
    verdict: str


def population_gap(a, b, paired: bool, confidence: float = 0.95) -> PopulationGap:
    """Gap between two populations' break-downs (member values on the severity axis): paired when member i of a
    and of b share a training seed (Student t over the differences, members - 1 df), else Welch's t interval
    (Welch-Satterthwaite df). Its interval covers between-member variation; the sign is decided only when it
    excludes zero."""
    a, b = (np.asarray(v, dtype=np.float64) for v in (a, b))
    if paired and len(a) != len(b):
        raise ValueError(f"paired populations need as many members: {len(a)} and {len(b)}")
    value = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    if paired:
        d = a - b
        se, df = (float(d.std(ddof=1) / math.sqrt(len(d))), len(d) - 1) if len(d) > 1 else (math.nan, 0)
    elif len(a) > 1 and len(b) > 1:
        va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        se = float(math.sqrt(va + vb))
        df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)) if va + vb > 0 else math.inf
    else:
        se, df = math.nan, 0
    if not (math.isfinite(value) and math.isfinite(se) and df > 0):
        return PopulationGap(value, math.nan, math.nan, float(df), paired, "undecided")
    half = quantile(confidence, df) * se
    lo, hi = value - half, value + half
    verdict = "decided (>0)" if lo > 0 else ("decided (<0)" if hi < 0 else "undecided")
    return PopulationGap(value, lo, hi, float(df), paired, verdict)
