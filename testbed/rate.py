"""Rate against capacity: does a network's break-down error SNR at its products follow the label entropy its task
must deliver, beyond the inputs it sees and how well it separates them?

rate_points (in testbed.summary, which reports may read) collects, per network unit of a sweep whose tasks have
at least two label entropies, its break-down error SNR (bits) with the task's label entropy, data set, input set
(networks.tasks.input_set) and the member's margin (logit_margin), the last two from the system's detail.
rate_fits fits, per such sweep, break-down SNR = b0 + b_H entropy + b_m margin + (an intercept per input set) +
u[task] + e by REML (testbed.mixed), a random intercept per task (data set), which its members share; the slope
on entropy comes with a Student-t interval, and so does the slope of the same model without the margin (the
margin is lower for tasks of more labels: the two covariates are correlated, and the entry gives their
correlation).
"""

from __future__ import annotations

import math

import numpy as np

from testbed.mixed import fit
from testbed.summary import rate_points

COVERS = ("the between-task variation (a random intercept per task: label grouping, kept classes and test subsample) "
          "and the between-member variation within a task (training seeds, with each member's own estimation "
          "error), for the slope on label entropy with the input set and the margin held fixed")


def logit_margin(logits) -> float:
    """The normalised logit margin of a network's noise-free integer logits (N inputs, K classes): the mean over
    inputs of the top logit minus the runner-up, divided by the root mean square of the logits' deviations from
    each class's mean logit over the inputs. Dimensionless (a common scale or a common offset of the logits does
    not change it): how far the decisions are from a tie, in units of how much the logits vary between
    inputs."""
    z = np.asarray(logits, float)
    top = np.sort(z, axis=1)
    spread = math.sqrt(float(np.mean((z - z.mean(axis=0)) ** 2)))
    return float(np.mean(top[:, -1] - top[:, -2]) / spread) if spread > 0 else 0.0


def rate_fits(summary: dict, confidence: float = 0.95) -> list[dict]:
    """Per sweep with rate points: the mixed-model fit of break-down SNR on label entropy (module docstring): the
    slope with its interval, the covariates, what the interval covers, the counts, and the fitted line at the
    reference input set and the mean margin (for the figure); or the sweep with `why` when the design does not
    determine the slope (e.g. each input set one entropy, or one member per task). The model without the margin
    (`without_margin`) comes with its own line at the reference input set."""
    out = []
    points = rate_points(summary)
    for name in dict.fromkeys(p["sweep"] for p in points):
        pts = [p for p in points if p["sweep"] == name and p["margin"] is not None and math.isfinite(p["snr"])]
        if len({p["site"] for p in pts}) > 1:  # one member, one point: two sites would count a network twice
            out.append({"sweep": name, "why": "the sweep puts its networks at more than one site"})
            continue
        entry = {"sweep": name, "response": "break-down error SNR at the products (bits)", "members": len(pts),
                 "tasks": len({p["dataset"] for p in pts}), "input_sets": len({p["input_set"] for p in pts})}
        try:
            entry |= _fit(pts, confidence)
        except ValueError as exc:
            entry["why"] = str(exc)
        out.append(entry)
    return out


def _fit(pts: list[dict], confidence: float) -> dict:
    sets = sorted({p["input_set"] for p in pts}, key=lambda s: (-sum(p["input_set"] == s for p in pts), s))
    tasks = [p["dataset"] for p in pts]
    if len(set(tasks)) == len(tasks):
        raise ValueError("one member per task: a task's intercept is not separable from a member's")
    margin = np.array([p["margin"] for p in pts], float)
    y, dummies = [p["snr"] for p in pts], [[float(p["input_set"] == s) for p in pts] for s in sets[1:]]
    X = np.column_stack([np.ones(len(pts)), [p["rate"] for p in pts], margin] + dummies)
    result = fit(y, X, tasks)
    lo, hi = result.interval(1, confidence)
    mlo, mhi = result.interval(2, confidence)
    alone = fit(y, np.delete(X, 2, axis=1), tasks)  # the same model without the margin
    alo, ahi = alone.interval(1, confidence)
    return {"slope": float(result.beta[1]), "lo": lo, "hi": hi, "confidence": confidence, "df": float(result.df[1]),
            "excludes_zero": bool(lo > 0 or hi < 0),
            "covariates": ["label entropy (bits)", "normalised logit margin (testbed.rate.logit_margin)",
                           f"input set ({len(sets)} levels, reference {sets[0]})"],
            "random_effect": "intercept per task (data set)", "covers": COVERS,
            "margin_slope": float(result.beta[2]), "margin_lo": mlo, "margin_hi": mhi,
            "margin_entropy_correlation": float(np.corrcoef(margin, X[:, 1])[0, 1]),
            "without_margin": {"slope": float(alone.beta[1]), "lo": alo, "hi": ahi, "df": float(alone.df[1]),
                               "line": {"intercept": float(alone.beta[0]), "slope": float(alone.beta[1])}},
            "var_task": result.var_group, "var_member": result.var_resid,
            "reference_set": sets[0], "line": {"intercept": float(result.beta[0] + result.beta[2] * margin.mean()),
                                               "slope": float(result.beta[1])}}


def rate_fit_text(f: dict) -> str:
    """A rate fit in one line, as `testbed show` prints it."""
    if "slope" not in f:
        return f"rate fit ({f['sweep']}): not determined: {f['why']}"
    return (f"rate fit ({f['sweep']}): break-down error SNR per bit of label entropy {f['slope']:.3g} bits "
            f"[{f['lo']:.3g}, {f['hi']:.3g}] ({100 * f['confidence']:g}%, t with {f['df']:g} df; {f['members']} "
            f"members, {f['tasks']} tasks, {f['input_sets']} input sets; covariates input set and margin, random "
            f"intercept per task): the interval {'excludes' if f['excludes_zero'] else 'includes'} zero; without the "
            f"margin {f['without_margin']['slope']:.3g} [{f['without_margin']['lo']:.3g}, "
            f"{f['without_margin']['hi']:.3g}]")
