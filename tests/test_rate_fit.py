"""The REML random-intercept fit (testbed.mixed) and the rate fit (testbed.rate): against the closed form of a
balanced design (ordinary least squares on the group means), against a second, dense implementation on the numbers
of a tiny rate suite run end to end, and the slope interval's coverage on simulated data with a known slope."""

import numpy as np
from scipy import optimize
from scipy import stats as scipy_stats

from testbed.mixed import fit
from testbed.rate import logit_margin
from testbed.store import read_summary
from testbed.summary import rate_points


def dense_reml(y, X, group):
    """A second implementation: the full covariance I + lam ZZ', its inverse and log-determinant by numpy, the
    profiled restricted log-likelihood maximised over log lam (and lam = 0); returns beta and its standard
    errors."""
    Z = (np.asarray(group)[:, None] == np.unique(group)[None, :]).astype(float)
    n, p = X.shape

    def parts(lam):
        Vi = np.linalg.inv(np.eye(n) + lam * Z @ Z.T)
        A = X.T @ Vi @ X
        beta = np.linalg.solve(A, X.T @ Vi @ y)
        r = y - X @ beta
        q = r @ Vi @ r
        ll = -0.5 * ((n - p) * np.log(q) + np.linalg.slogdet(np.eye(n) + lam * Z @ Z.T)[1]
                     + np.linalg.slogdet(A)[1])
        return beta, q, A, ll

    res = optimize.minimize_scalar(lambda t: -parts(np.exp(t))[3], bounds=(-20, 12), method="bounded",
                                   options={"xatol": 1e-8})
    lam = np.exp(res.x) if parts(np.exp(res.x))[3] > parts(0.0)[3] else 0.0
    beta, q, A, _ = parts(lam)
    return beta, np.sqrt(np.diag(q / (n - p) * np.linalg.inv(A)))


def test_balanced_group_level_design_is_least_squares_on_group_means():
    rng = np.random.default_rng(4)
    g, m = 9, 5
    h = rng.uniform(1, 3.3, g)
    M = np.column_stack([np.ones(g), h])
    u = rng.normal(0, 0.8, g)
    y = np.repeat(1.0 + 0.7 * h + u, m) + rng.normal(0, 0.3, g * m)
    result = fit(y, np.repeat(M, m, axis=0), np.repeat(np.arange(g), m))
    means = y.reshape(g, m).mean(axis=1)
    beta, rss = np.linalg.lstsq(M, means, rcond=None)[:2]
    se = np.sqrt(np.diag(rss[0] / (g - 2) * np.linalg.inv(M.T @ M)))
    assert result.var_group > 0  # inside the parameter space, where the closed form holds
    np.testing.assert_allclose(result.beta, beta, rtol=1e-9)
    np.testing.assert_allclose(result.se, se, rtol=1e-4)
    assert list(result.df) == [g - 2, g - 2]
    t = scipy_stats.t.ppf(0.975, g - 2)
    np.testing.assert_allclose(result.interval(1), (beta[1] - t * se[1], beta[1] + t * se[1]), rtol=1e-4)


def test_slope_interval_covers_a_known_slope():
    """12 tasks (entropy 1 to 3.3 bits, two input sets) of 5 members with a member-level margin; the true slope
    is 0.5. A 95% interval must cover it in at least 93% of 300 seeded repetitions (a 90% procedure would pass
    with probability about 0.03)."""
    rng = np.random.default_rng(11)
    h = np.array([1, 1, 1, 2, 2, 2.32, 2.32, 3.32, 1, 1, 2, 1.0])
    sets = np.array([0] * 8 + [1] * 4)
    covered = 0
    for _ in range(300):
        task = np.repeat(np.arange(12), 5)
        margin = rng.normal(1.5, 0.3, 60) + 0.2 * h[task]
        y = 2 + 0.5 * h[task] - 1.0 * margin + 0.8 * sets[task] + rng.normal(0, 0.7, 12)[task] \
            + rng.normal(0, 0.5, 60)
        X = np.column_stack([np.ones(60), h[task], margin, sets[task]])
        lo, hi = fit(y, X, task).interval(1)
        covered += lo <= 0.5 <= hi
    assert covered >= 279, covered


def test_margin_is_free_of_scale_and_offset():
    z = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 1.5], [1.0, 1.0, 4.0], [2.0, 0.0, 0.5]])
    centred = z - z.mean(axis=0)
    expected = np.mean([2.0, 0.5, 3.0, 1.5]) / np.sqrt(np.mean(centred ** 2))
    assert np.isclose(logit_margin(z), expected)
    assert np.isclose(logit_margin(7 * z - 5), expected)


TINY = """
[suite]
name = "rate-tiny"
seed = 3
[defaults]
min_trials = 2
max_trials = 2
refine = 0
budget = 0
""" + "".join(f"""
[systems.{name}]
kind = "network"
dataset = "digits"
task = {task}
hidden = [8]
epochs = 30
seeds = [0, 1]
""" for name, task in [("eo", '{groups = "even-odd", test_inputs = 60}'),
                       ("lh", '{groups = "low-high", test_inputs = 60}'),
                       ("m5", '{groups = "mod-5", test_inputs = 60}'),
                       ("p01", "{keep = [0, 1], test_inputs = 60}")]) + """
[[sweeps]]
name = "additive"
noise = "additive"
levels = {lin = [-6.0, 18.0, 7]}
sites = {eo = "product", lh = "product", m5 = "product", p01 = "product"}
"""


def test_tiny_rate_suite_fit_matches_a_hand_computed_one(tmp_path, capsys):
    from conftest import run_suite_text

    out = run_suite_text(tmp_path, TINY, "--no-report")
    summary = read_summary(out)
    (f,) = summary["rate_fit"]
    pts = [p for p in rate_points(summary) if p["margin"] is not None]
    assert f["members"] == len(pts) >= 7 and f["tasks"] == 4 and f["input_sets"] == 2
    assert {p["input_set"] for p in pts} == {"digits{0,1,2,3,4,5,6,7,8,9}:test=60", "digits{0,1}:test=60"}
    ten = [p for p in pts if p["input_set"].startswith("digits{0,1,2")]
    X = np.column_stack([np.ones(len(pts)), [p["rate"] for p in pts], [p["margin"] for p in pts],
                         [float(p not in ten) for p in pts]])
    y = np.array([p["snr"] for p in pts])
    beta, se = dense_reml(y, X, np.array([p["dataset"] for p in pts]))
    t = scipy_stats.t.ppf(0.975, 4 - 3)  # 4 tasks less 3 task-level coefficients
    assert np.isclose(f["slope"], beta[1], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose([f["lo"], f["hi"]], [beta[1] - t * se[1], beta[1] + t * se[1]], rtol=1e-3)
    assert f["df"] == 1 and f["covers"].startswith("the between-task variation")
    beta, se = dense_reml(y, np.delete(X, 2, axis=1), np.array([p["dataset"] for p in pts]))
    alone = f["without_margin"]
    assert np.isclose(alone["slope"], beta[1], rtol=1e-4, atol=1e-6) and alone["df"] == 1
    np.testing.assert_allclose([alone["lo"], alone["hi"]], [beta[1] - t * se[1], beta[1] + t * se[1]], rtol=1e-3)
    from reports.build import rate_fit_sentence
    from reports.figures import rate_fit_figure
    from testbed.show import show

    assert "rate fit (additive): break-down error SNR per bit of label entropy" in show(out)
    assert rate_fit_figure(pts, f).startswith(b"\x89PNG")
    sentence = rate_fit_sentence(f)
    assert f"t with 1 degrees of freedom, {len(pts)} members of 4 tasks on 2 input sets" in sentence
    assert ("excludes zero" if f["excludes_zero"] else "includes zero") in sentence
