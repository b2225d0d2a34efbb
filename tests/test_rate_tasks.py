"""Tasks as data (networks.tasks): merged labels against the original classes, the label entropy against its closed
form from the class counts, the test subsample, the task key of networks and compiled classifiers, and bad tasks
refused with one line naming the suite field (exit status 2, nothing written)."""

import math

import numpy as np
import pytest

from networks import data as datasets
from networks import tasks
from testbed.stats import entropy_bits
from testbed.suite import load_suite


def test_merged_labels_follow_the_groups_and_the_entropy_its_closed_form():
    full = datasets.digits()
    task = tasks.parse({"groups": "mod-4"}, "digits")
    ds = datasets.load(task.dataset_name("digits"))
    assert ds.name == "digits:0,4,8|1,5,9|2,6|3,7" and ds.n_classes == 4
    np.testing.assert_array_equal(ds.y_test, full.y_test % 4)  # class c is in group c mod 4
    np.testing.assert_array_equal(ds.y_train, full.y_train % 4)
    counts = np.bincount(full.y_test, minlength=10)
    p = np.array([counts[[0, 4, 8]].sum(), counts[[1, 5, 9]].sum(), counts[[2, 6]].sum(), counts[[3, 7]].sum()])
    p = p / p.sum()
    assert math.isclose(entropy_bits(np.bincount(ds.y_test)), -(p * np.log2(p)).sum())


def test_kept_classes_and_the_test_subsample():
    full = datasets.digits()
    pair = datasets.load(tasks.parse({"keep": [3, 8], "test_inputs": 90}, "digits").dataset_name("digits"))
    kept = np.isin(full.y_test, [3, 8])
    assert len(pair.y_test) == 90 and set(pair.y_test) == {0, 1}
    # every evaluated input is a kept test input, with its label the index of its class in keep
    rows = {x.tobytes(): y for x, y in zip(full.x_test[kept], full.y_test[kept], strict=True)}
    assert all(rows[x.tobytes()] == (3, 8)[y] for x, y in zip(pair.x_test, pair.y_test, strict=True))
    assert len(pair.y_train) == int(np.isin(full.y_train, [3, 8]).sum())
    # tasks that keep the same classes evaluate the same inputs, whatever their groups
    a = datasets.load(tasks.parse({"groups": "even-odd", "test_inputs": 90}, "digits").dataset_name("digits"))
    b = datasets.load(tasks.parse({"groups": "mod-5", "test_inputs": 90}, "digits").dataset_name("digits"))
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert tasks.input_set(a.name) == tasks.input_set(b.name) == "digits{0,1,2,3,4,5,6,7,8,9}:test=90"


SUITE = """
[suite]
name = "t"
seed = 1
[systems.net]
kind = "network"
dataset = "digits"
hidden = [8]
{net}
[systems.tree]
kind = "classifier"
model = "tree"
{tree}
[[sweeps]]
name = "s"
noise = "additive"
levels = [2.0, 8.0]
sites = {{net = "product", tree = "output"}}
"""


def test_networks_and_classifiers_take_a_task(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SUITE.format(net='task = {groups = "low-high", test_inputs = 90}',
                                 tree="task = {groups = [[1], [7]]}"))
    suite = load_suite(path)
    assert suite.systems["net"].config.dataset == "digits:0,1,2,3,4|5,6,7,8,9:test=90"
    assert suite.systems["tree"].dataset == "digits:1|7"
    from networks.models import weight_layers
    from networks.train import build

    model = build(suite.systems["net"].config, datasets.load(suite.systems["net"].config.dataset))
    assert weight_layers(model)[-1].out_features == 2  # the output width is the number of groups


@pytest.mark.parametrize("net, field", [
    ("task = {groups = [[0, 1], [1, 2]]}", "systems.net.task.groups: a class is in more than one group"),
    ("task = {keep = [0, 1, 2], groups = [[0], [1]]}", "systems.net.task.groups: the groups must hold exactly"),
    ("task = {groups = [[0, 12]]}", "systems.net.task.groups: a task needs at least 2 groups"),
    ("task = {groups = [[0], [12]]}", "systems.net.task.groups: data set digits has classes 0..9, not 12"),
    ("task = {keep = [0, 1], test_inputs = 98}", "systems.net.task.test_inputs: must be an integer in 1..97"),
    ('task = {groups = "primes"}', "systems.net.task.groups: unknown partition 'primes'"),
    ("task = {keep = [0, 1], labels = 2}", "systems.net.task.labels: unknown key"),
    ('task = "even-odd"', "systems.net.task: must be dict"),
])
def test_a_bad_task_is_one_line_naming_the_field(tmp_path, capsys, net, field):
    from conftest import refused

    err = refused(tmp_path, capsys, SUITE.format(net=net, tree=""))
    assert err.count("\n") == 1 and field in err, err
