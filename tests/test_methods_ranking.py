"""The cost-axis verdicts on hand-made summaries: which method the report's sentence ranks first, and that the
rate fit refuses a sweep that would count one network twice (two sites)."""

from reports.methods import best_sentence
from testbed.rate import rate_fits


def _row(label, system, gates, accuracy, gain=None):
    return {"sweep": "s", "task": "t", "site": "mac-gate", "system": system, "method": {"label": label},
            "gates_per_multiply": gates, "clean_accuracy": accuracy,
            "gain": None if gain is None else {"value": gain, "lo": gain / 2, "hi": gain * 2,
                                               "verdict": "decided (>0)", "against": "plain"}}


def test_a_method_adding_no_gates_but_losing_accuracy_ranks_after_one_that_pays_in_gates():
    rows = [_row("plain", "net", 350, 0.97), _row("lossy training", "net_fa", 350, 0.95, gain=0.9),
            _row("full TMR", "net_tmr", 1066, 0.97, gain=0.3)]
    assert "full TMR (net_tmr)" in best_sentence({"methods": rows})
    rows[1]["clean_accuracy"] = 0.969  # within half a point: free in both costs, first
    assert "lossy training (net_fa)" in best_sentence({"methods": rows})


def test_rate_fit_refuses_a_sweep_with_networks_at_two_sites(monkeypatch):
    points = [{"sweep": "r", "site": site, "margin": 1.0, "snr": 2.0, "dataset": f"d{k}", "input_set": "all"}
              for k in range(4) for site in ("product", "activation")]
    monkeypatch.setattr("testbed.rate.rate_points", lambda summary: points)
    (fit,) = rate_fits({})
    assert fit == {"sweep": "r", "why": "the sweep puts its networks at more than one site"}
