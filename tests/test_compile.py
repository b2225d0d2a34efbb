"""Compiled classifiers against their software models: the whole digits test set, exhaustive small models,
the building blocks exhaustively, and Icarus on a sample of the exported Verilog."""

import hashlib
import subprocess

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

import circuits as c
from circuits import blocks
from circuits.builder import Builder
from circuits.yosys import to_verilog
from networks import digits
from networks.compilers import (
    compile_binarized,
    compile_forest,
    compile_tree,
    fit_forest,
    fit_tree,
    quantize,
    thermometer,
    train_binarized,
    trained_binarized,
)
from tests.conftest import require_tool


@pytest.fixture(scope="module")
def data():
    return digits()


@pytest.fixture(scope="module")
def compiled(data):
    """Tree, forest and binarized MLP trained on digits, each compiled."""
    _, bnn = train_binarized(data.x_train, data.y_train, hidden=(32,), bits=2, epochs=30)
    return {"tree": fit_tree(data.x_train, data.y_train), "forest": fit_forest(data.x_train, data.y_train, n_trees=8),
            "bnn": compile_binarized(bnn)}


def test_blocks_exhaustively():
    b = Builder("blocks")
    x, y = b.input("x", 4), b.input("y", 4)
    for k in range(-1, 18):
        b.output(f"le{k + 1}", [blocks.le_const(b, x, k)])
        b.output(f"ge{k + 1}", [blocks.ge_const(b, x, k)])
    b.output("pc", blocks.popcount(b, x + y))
    b.output("lt", [blocks.less_than(b, x, y)])
    b.output("am", blocks.argmax(b, [x, y, x[:2], y[1:]]))
    b.output("enc", blocks.encode(b, x))
    xs, ys = (v.ravel() for v in np.meshgrid(np.arange(16), np.arange(16)))
    r = c.simulate(b.build(), x=xs, y=ys)
    for k in range(-1, 18):
        assert (r[f"le{k + 1}"] == (xs <= k)).all() and (r[f"ge{k + 1}"] == (xs >= k)).all()
    assert (r["pc"] == [bin(u).count("1") + bin(v).count("1") for u, v in zip(xs, ys, strict=True)]).all()
    assert (r["lt"] == (xs < ys)).all()
    assert (r["am"] == np.argmax(np.stack([xs, ys, xs & 3, ys >> 1]), axis=0)).all()  # first maximum on ties
    one_hot = np.isin(xs, [1, 2, 4, 8])
    assert (r["enc"][one_hot] == np.log2(xs[one_hot])).all()


@pytest.mark.parametrize("kind", ["tree", "forest", "bnn"])
def test_compiled_matches_model_on_the_whole_test_set(compiled, data, kind):
    cc = compiled[kind]
    ref = cc.predict(data.x_test)
    assert np.array_equal(cc.classify(data.x_test), ref)
    assert (ref == data.y_test).mean() > {"tree": 0.75, "forest": 0.85, "bnn": 0.85}[kind]
    assert cc.netlist.output_widths == {"class": 4}
    assert cc.classify(data.x_test[:200], faults=c.GateFaults(flip_p=0.05, seed=1)).tolist() != ref[:200].tolist()


def test_compiled_tree_and_forest_agree_with_scikit_learns_own_predict(data):
    """The netlists against scikit-learn itself: a tree's predict; a forest's hard vote of its own trees' predict
    (the forest compiles a hard vote, the lowest class on equal counts; its predict averages probabilities)."""
    q_train, q_test = quantize(data.x_train, 4), quantize(data.x_test, 4)
    tree = DecisionTreeClassifier(random_state=0).fit(q_train, data.y_train)
    assert np.array_equal(compile_tree(tree, 64, 4).classify(data.x_test), tree.predict(q_test))
    forest = RandomForestClassifier(n_estimators=8, random_state=0).fit(q_train, data.y_train)
    votes = np.stack([forest.classes_[t.predict(q_test).astype(np.int64)] for t in forest.estimators_], axis=1)
    hard = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
    assert np.array_equal(compile_forest(forest, 64, 4).classify(data.x_test), hard)
    assert (hard == forest.predict(q_test)).mean() > 0.9  # the two votes mostly agree


def test_binarized_integer_model_matches_torch(data):
    net, model = train_binarized(data.x_train, data.y_train, hidden=(24,), bits=2, epochs=20, seed=3)
    q = quantize(data.x_test, 2)
    with torch.no_grad():
        ref = net(torch.as_tensor(thermometer(q, 3), dtype=torch.float32) * 2 - 1).argmax(1).numpy()
    assert (model.predict(q) == ref).mean() >= 0.99  # exact except where a float sum sits on a threshold


def test_a_binarized_mlp_is_trained_once_per_cache_and_a_tampered_file_is_retrained(data, tmp_path, monkeypatch):
    import networks.compilers.binarized as bz
    from circuits.cache import CacheWarning

    monkeypatch.setenv("TESTBED_CACHE", str(tmp_path))
    first = trained_binarized(data, hidden=(6, 5), bits=1, epochs=2, seed=4)
    _, direct = train_binarized(data.x_train, data.y_train, hidden=(6, 5), bits=1, epochs=2, seed=4)
    calls = []
    monkeypatch.setattr(bz, "train_binarized", lambda *a: calls.append(a) or (None, direct))
    again = trained_binarized(data, hidden=(6, 5), bits=1, epochs=2, seed=4)
    assert calls == []  # loaded, not trained
    q = quantize(data.x_test, 1)
    assert np.array_equal(again.predict(q), direct.predict(q)) and np.array_equal(first.predict(q), direct.predict(q))
    assert all(np.array_equal(a.thresholds, b.thresholds) and np.array_equal(a.weights, b.weights)
               for a, b in zip(again.hidden, direct.hidden, strict=True))
    (path,) = (tmp_path / "models").glob("bnn_*.npz")
    sha = path.with_name(path.name + ".sha256")
    path.write_bytes(path.read_bytes()[:-1] + b"x")
    with pytest.warns(CacheWarning, match="fails verification"):
        trained_binarized(data, hidden=(6, 5), bits=1, epochs=2, seed=4)
    path.write_bytes(b"garbage")
    sha.write_text(hashlib.sha256(b"garbage").hexdigest())
    with pytest.warns(CacheWarning, match="unreadable"):
        trained_binarized(data, hidden=(6, 5), bits=1, epochs=2, seed=4)
    trained_binarized(data, hidden=(6, 5), bits=1, epochs=2, seed=5)  # another member, then its file in this one's
    other = next(p for p in (tmp_path / "models").glob("bnn_*.npz") if p != path)
    path.write_bytes(other.read_bytes())
    sha.write_text(hashlib.sha256(other.read_bytes()).hexdigest())
    with pytest.warns(CacheWarning, match="holds another model"):
        trained_binarized(data, hidden=(6, 5), bits=1, epochs=2, seed=4)
    assert len(calls) == 4  # retrained each time (seed 5 through the stub too)


def test_small_models_exhaustively():
    rng = np.random.default_rng(0)
    x = rng.random((400, 3))
    y = ((x[:, 0] > 0.5) * 2 + (x[:, 1] + x[:, 2] > 0.9)).astype(np.int64)
    grid = np.stack(np.meshgrid(*[np.arange(8)] * 3), -1).reshape(-1, 3) / 7.0  # every 3-bit input
    _, bnn = train_binarized(x, y, hidden=(6, 5), bits=3, epochs=5)
    for cc in (fit_tree(x, y, bits=3), fit_forest(x, y, bits=3, n_trees=5, max_depth=4), compile_binarized(bnn)):
        assert np.array_equal(cc.classify(grid), cc.predict(grid)), cc.netlist.name


@pytest.mark.parametrize("kind", ["forest", "bnn"])
def test_verilog_of_a_compiled_classifier_simulates_identically_in_icarus(compiled, data, kind, tmp_path):
    require_tool("iverilog", "vvp")
    cc, n = compiled[kind], 60
    x = data.x_test[:n]
    ops = cc.operands(x)
    net = cc.netlist
    (tmp_path / "dut.v").write_text(to_verilog(net, "dut"))
    width = sum(net.inputs.values())
    packed = [sum(int(ops[f"x{f}"][i]) << (f * cc.bits) for f in range(cc.n_features)) for i in range(n)]
    (tmp_path / "in.hex").write_text("\n".join(f"{v:x}" for v in packed) + "\n")
    ports = ", ".join(f".x{f}(v[{(f + 1) * cc.bits - 1}:{f * cc.bits}])" for f in range(cc.n_features))
    (tmp_path / "tb.v").write_text(f"""module tb;
  reg [{width - 1}:0] mem [0:{n - 1}]; reg [{width - 1}:0] v; wire [3:0] class; integer i;
  dut u({ports}, .class(class));
  initial begin
    $readmemh("{tmp_path}/in.hex", mem);
    for (i = 0; i < {n}; i = i + 1) begin v = mem[i]; #1 $display("%0d", class); end
  end
endmodule
""")
    subprocess.run(["iverilog", "-o", str(tmp_path / "sim"), str(tmp_path / "tb.v"), str(tmp_path / "dut.v")],
                   check=True, capture_output=True)
    run = subprocess.run(["vvp", "-n", str(tmp_path / "sim")], check=True, capture_output=True, text=True)
    assert [int(v) for v in run.stdout.split()] == cc.classify(x).tolist()
