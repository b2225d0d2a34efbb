"""Selective hardening: hardened netlists compute the same function, single faults inside the protected gates
never reach an output (exhaustively by a campaign, and as a Hypothesis property), overheads are as stated, and
the voter's error probability under flips follows von Neumann's closed form."""

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import circuits
from circuits import GateFaults, NetlistError
from circuits.campaign import stuck_at_campaign
from circuits.hardening import (
    COPIES,
    apply_hardening,
    duplicate_and_compare,
    fanin_cone,
    harden_by_sensitivity,
    harden_cone,
    harden_gates,
    parse_hardening,
    sensitivity_shares,
)
from circuits.netlist import Netlist
from testbed.properties import assert_unaffected
from testbed.strategies import netlists, operands, stuck_faults

MUL4 = circuits.multiplier(4)
SPECS = ("tmr", "cone:1", "cone:3", "sensitivity:0.25", "block:g1", "none")


def _table(net, **kw):
    """{bus: values over every input vector} (vector order of circuits.exhaustive)."""
    parts = [outs for _, outs in circuits.exhaustive(net, **kw)]
    return {bus: np.concatenate([p[bus] for p in parts]) for bus in parts[0]}


def _original(name: str) -> str:
    return name[len(COPIES[0]):] if name.startswith(COPIES) else name


@pytest.mark.parametrize("spec", SPECS)
def test_hardened_multiplier_computes_the_same_and_masks_every_protected_fault(spec):
    h = apply_hardening(MUL4, spec)
    assert _table(h.netlist)["p"].tolist() == _table(MUL4)["p"].tolist()
    if spec == "none":
        return
    camp = stuck_at_campaign(h.netlist, gates=h.protected)
    assert camp.detected.max() == 0, camp.undetected()[:3]
    # the same faults at the original gates are seen by the unprotected multiplier
    base = stuck_at_campaign(MUL4, gates=sorted({_original(n) for n in h.protected}))
    assert base.detected.min() > 0
    # voters are gates like any other: each one's stuck-at faults do reach an output
    voters = [n for n in h.netlist.gate_names if n.startswith("vote.")]
    assert voters and stuck_at_campaign(h.netlist, gates=voters).detected.max() > 0


@given(net=netlists(inputs={"a": 3, "b": 2}, max_gates=10), data=st.data())
def test_any_protected_set_masks_single_faults(net, data):
    chosen = data.draw(st.lists(st.integers(0, net.n_gates - 1), min_size=1, unique=True))
    h = harden_gates(net, chosen)
    ops = data.draw(operands(h.netlist))
    assert circuits.simulate(h.netlist, **ops)["y"].tolist() == circuits.simulate(net, **ops)["y"].tolist()
    if h.protected:
        assert_unaffected(h.netlist, data.draw(stuck_faults(h.netlist, gates=h.protected)), ops)


@given(data=st.data())
def test_cone_hardened_mac_survives_single_faults_in_its_cone(data):
    h = harden_cone(circuits.mac.mac(3, 3, 8), top_k=3)
    assert_unaffected(h.netlist, data.draw(stuck_faults(h.netlist, gates=h.protected)), data.draw(operands(h.netlist)))


def test_unprotected_gates_are_not_masked():
    h = harden_cone(MUL4, top_k=1)
    outside = [n for n in h.netlist.gate_names if not n.startswith(COPIES + ("vote.",))]
    assert outside and stuck_at_campaign(h.netlist, gates=outside).detected.min() > 0


def test_full_tmr_overhead_is_3g_plus_outputs_and_sensitivity_one_protects_every_gate():
    g, outs = MUL4.n_gates, len(MUL4.outputs["p"])
    full = apply_hardening(MUL4, "tmr")
    assert full.netlist.n_gates == 3 * g + outs == circuits.tmr(MUL4).n_gates
    assert full.gates_added == 2 * g + outs and full.overhead == pytest.approx((2 * g + outs) / g)
    every = harden_by_sensitivity(MUL4, 1.0)
    assert every.netlist.n_gates == 3 * g + outs and len(every.protected) == 3 * g
    assert {_original(n) for n in every.protected} == set(MUL4.gate_names)
    assert harden_by_sensitivity(MUL4, 0.0).netlist.n_gates == g


def test_sensitivity_ranking_protects_the_largest_shares():
    shares = sensitivity_shares(MUL4)
    camp = stuck_at_campaign(MUL4)
    assert shares.sum() == pytest.approx(1.0)
    assert shares * camp.sensitivity == pytest.approx(camp.detection_rate.reshape(-1, 2).sum(axis=1))
    h = harden_by_sensitivity(MUL4, 0.3)
    inside = np.array([MUL4.gate_index(n) for n in {_original(n) for n in h.protected}])
    assert len(inside) == round(0.3 * MUL4.n_gates)
    outside = np.setdiff1d(np.arange(MUL4.n_gates), inside)
    assert shares[inside].min() >= shares[outside].max()


def test_cone_is_the_structural_fan_in():
    # a fault seen at output bit k lies in bit k's cone (the converse may fail on masked logic)
    camp = stuck_at_campaign(MUL4)
    for k in range(8):
        cone = set(fanin_cone(MUL4, [("p", k)]))
        seen = {int(camp.sites[f]) for f in np.flatnonzero(camp.per_bit[:, k])}
        assert seen <= cone and len(seen) > 0
    # bit 0 of a multiplier is one AND gate: three copies and one voter
    h = harden_cone(MUL4, bits=[("p", 0)])
    assert h.gates_added == 3 and len(h.protected) == 3


def test_duplicate_and_compare_flags_every_visible_fault_and_never_corrects():
    h = duplicate_and_compare(MUL4)
    b = len(MUL4.outputs["p"])
    assert h.netlist.n_gates == 2 * MUL4.n_gates + b + (b - 1)
    golden = _table(MUL4)["p"]
    clean = _table(h.netlist)
    assert clean["p"].tolist() == golden.tolist() and not clean["error"].any()
    corrupted = 0
    for name in h.protected[::3]:
        for value in (0, 1):
            out = _table(h.netlist, stuck=[(name, value)])
            wrong = out["p"] != golden
            assert not (wrong & (out["error"] == 0)).any(), f"{name} stuck at {value} passes unflagged"
            assert not (name.startswith(COPIES[1]) and wrong.any()), "the checking copy reaches the outputs"
            corrupted += bool(wrong.any())
    assert corrupted > 0  # faults of the working copy do corrupt the outputs: detected, not corrected


@pytest.mark.parametrize("spec, part", [
    ("cone:x", "'x'"), ("cone:0", "'0'"), ("cone:", "needs an argument"), ("sensitivity:1.5", "'1.5'"),
    ("sensitivity:abc", "'abc'"), ("sensitivity:nan", "'nan'"), ("block:zzz", "'zzz'"), ("tmr:3", "'3'"),
    ("quad", "'quad'"), (3, "3"), ("dwc:", "no argument"),
])
def test_bad_specs_name_the_bad_part(spec, part):
    with pytest.raises(NetlistError, match=re.escape(part)):
        apply_hardening(MUL4, spec)
    if spec != "block:zzz":  # only the netlist knows which gate names exist
        with pytest.raises(NetlistError, match=re.escape(part)):
            parse_hardening(spec)


def test_specs_parse_to_their_arguments():
    assert [parse_hardening(s) for s in ("tmr", "cone:12", "block:mul.", "sensitivity:0.25", "sensitivity:1")] == [
        ("tmr", None), ("cone", 12), ("block", "mul."), ("sensitivity", 0.25), ("sensitivity", 1.0)]


def test_majority_voter_error_follows_von_neumann():
    """A chain of d NOT gates triplicated and voted: each copy is wrong with eta = (1 - (1 - 2p)^d) / 2, the
    voter flips with eps = p; the output is wrong with eps + (1 - 2 eps)(3 eta^2 - 2 eta^3)."""
    d, n = 3, 1 << 18
    chain = Netlist({"x": 1}, [circuits.KINDS["NOT"].opcode] * d, [[2, 0, 0]] + [[3 + i, 0, 0] for i in range(d - 1)],
                    {"y": [2 + d]}, name="not_chain")
    h = harden_gates(chain, range(d))
    assert h.netlist.n_gates == 3 * d + 1
    x = np.zeros(n, np.int64)
    for p in (0.01, 0.05, 0.15):
        eta, eps = (1 - (1 - 2 * p) ** d) / 2, p
        expect = eps + (1 - 2 * eps) * (3 * eta ** 2 - 2 * eta ** 3)
        wrong = np.mean(circuits.simulate(h.netlist, {"x": x}, faults=GateFaults(flip_p=p, seed=11))["y"] != 1)
        assert abs(wrong - expect) < 5 * math.sqrt(expect * (1 - expect) / n), (p, wrong, expect)
        plain = np.mean(circuits.simulate(chain, {"x": x}, faults=GateFaults(flip_p=p, seed=12))["y"] != 1)
        assert abs(plain - eta) < 5 * math.sqrt(eta * (1 - eta) / n)
