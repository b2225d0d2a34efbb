"""A linear mixed model with one random intercept per group, fitted by REML: y = X beta + u[group] + e, with
u ~ N(0, s_u^2) per group and e ~ N(0, s_e^2) per observation, independent.

For a variance ratio lam = s_u^2 / s_e^2 the covariance is s_e^2 V with V block-diagonal, V_j = I + lam 11' per
group (V_j^-1 = I - lam / (1 + lam n_j) 11', log det V_j = log(1 + lam n_j)); beta is its generalised least
squares estimate, s_e^2 = r'V^-1 r / (n - p), and lam maximises the profiled restricted log-likelihood
-((n - p) log(r'V^-1 r) + log det V + log det X'V^-1 X) / 2 over lam >= 0 (a bounded search on log lam, and
lam = 0). Cov(beta) = s_e^2 (X'V^-1 X)^-1. Intervals are Student-t with the between-within degrees of freedom:
n - p for a coefficient that varies within groups, groups - (the rank of X's columns that are constant within
every group) for one that does not (a group-level covariate is estimated from the groups, not the observations).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats


@dataclass(frozen=True)
class MixedFit:
    """The fixed effects (beta, their standard errors and degrees of freedom, in X's column order), the variance
    components (s_u^2 between groups, s_e^2 within) and the counts."""

    beta: np.ndarray
    se: np.ndarray
    df: np.ndarray
    var_group: float
    var_resid: float
    n: int
    groups: int

    def interval(self, j: int, confidence: float = 0.95) -> tuple[float, float]:
        """The Student-t interval of coefficient j."""
        t = stats.t.ppf(0.5 + confidence / 2, self.df[j])
        return float(self.beta[j] - t * self.se[j]), float(self.beta[j] + t * self.se[j])


def _parts(y, X, groups, lam):
    """X'V^-1 X, X'V^-1 y, y'V^-1 y and log det V for the ratio lam."""
    xvx, xvy, yvy, logdet = X.T @ X, X.T @ y, float(y @ y), 0.0
    for idx in groups:
        w = lam / (1 + lam * len(idx))
        sx, sy = X[idx].sum(axis=0), y[idx].sum()
        xvx = xvx - w * np.outer(sx, sx)
        xvy = xvy - w * sx * sy
        yvy -= w * sy * sy
        logdet += np.log1p(lam * len(idx))
    return xvx, xvy, yvy, logdet


def _restricted(y, X, groups, lam):
    """The GLS estimate, r'V^-1 r and the profiled restricted log-likelihood (up to a constant) at lam."""
    xvx, xvy, yvy, logdet = _parts(y, X, groups, lam)
    beta = np.linalg.solve(xvx, xvy)
    q = yvy - float(xvy @ beta)
    n, p = X.shape
    ll = -0.5 * ((n - p) * np.log(max(q, 1e-300)) + logdet + np.linalg.slogdet(xvx)[1])
    return beta, q, xvx, ll


def fit(y, X, group) -> MixedFit:
    """REML fit of y (n,) on X (n, p) with a random intercept per distinct value of group (n,). ValueError when X
    is rank-deficient or leaves no degrees of freedom."""
    y, X = np.asarray(y, float), np.asarray(X, float)
    labels, codes = np.unique(np.asarray(group), return_inverse=True)
    groups = [np.flatnonzero(codes == g) for g in range(len(labels))]
    n, p = X.shape
    if np.linalg.matrix_rank(X) < p or n <= p:
        raise ValueError(f"the design ({n} observations, {p} columns) does not determine the coefficients")
    constant = [j for j in range(p) if all(np.ptp(X[idx, j]) == 0 for idx in groups)]
    between = len(labels) - np.linalg.matrix_rank(X[:, constant]) if constant else n - p
    df = np.array([between if j in constant else n - p for j in range(p)], float)
    if df.min() < 1:
        raise ValueError(f"{len(labels)} groups leave no degrees of freedom for the group-level coefficients")
    best = optimize.minimize_scalar(lambda t: -_restricted(y, X, groups, np.exp(t))[3], bounds=(-20.0, 12.0),
                                    method="bounded", options={"xatol": 1e-6})
    lam = float(np.exp(best.x))
    if _restricted(y, X, groups, 0.0)[3] >= _restricted(y, X, groups, lam)[3]:
        lam = 0.0
    beta, q, xvx, _ = _restricted(y, X, groups, lam)
    s2 = q / (n - p)
    se = np.sqrt(np.diag(s2 * np.linalg.inv(xvx)))
    return MixedFit(beta, se, df, lam * s2, s2, n, len(labels))
