"""The benchmark scripts' own arithmetic (they print figures, so nothing here is timed): the
FLOP count the hardware-limit benchmark divides by, the Keras-order baseline the convolution
ablation starts from, and the parsing of Snakemake's benchmark files."""

from __future__ import annotations

import sys

import torch

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

from common import Row, print_table  # noqa: E402
from epochs import forward_flops, keras_order  # noqa: E402
from quick_dag import rule_times  # noqa: E402

from dllaunchpad.models.cnn_classifier import CNNClassifier  # noqa: E402

OPTIMIZER = {"name": "rmsprop", "lr": 0.001}


def test_flops_of_the_mnist_cnn_from_its_layer_shapes():
    cnn = CNNClassifier(1, 28, [32, 64], [True, False], [32], 10, OPTIMIZER)
    conv1 = 2 * (3 * 3 * 1) * (32 * 26 * 26)
    conv2 = 2 * (3 * 3 * 32) * (64 * 11 * 11)
    dense = 2 * (64 * 11 * 11) * 32 + 2 * 32 * 10
    assert forward_flops(cnn.net, torch.zeros(1, 1, 28, 28)) == conv1 + conv2 + dense == 5_346_176


def test_keras_order_puts_relu_back_before_the_pool():
    cnn = CNNClassifier(1, 28, [4, 4], [True, True], [8], 10, OPTIMIZER)
    names = [type(m).__name__ for m in keras_order(cnn.net)]
    assert names[:6] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d"]


def test_rule_times_read_snakemake_benchmark_files(tmp_path, capsys):
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    (tmp_path / "train").mkdir()
    (tmp_path / "train/xor.tsv").write_text(header + "7.0\t0:00:07\t426.1\t1\t1\t1\t0\t0\t90\t6.5\n")
    (tmp_path / "fetch").mkdir()
    (tmp_path / "fetch/iris.tsv").write_text(header + "0.3\t0:00:00\tNA\t1\t1\t1\t0\t0\t90\t0.2\n")
    times = rule_times(tmp_path)
    assert [t[0] for t in times] == ["train/xor", "fetch/iris"]  # slowest first
    assert times[0][1:] == (7.0, 6.5, 426.1) and times[1][3] != times[1][3]  # NA -> nan
    print_table([Row("x", "a figure", 1.5, "s", "<= 2 s", True, "note")])
    out = capsys.readouterr().out.splitlines()
    from dllaunchpad.training.devices import cpu_model

    assert out[0].startswith(f"CPU: {cpu_model()}, ")  # Intel one session, AMD the next: say which
    assert out[1].split() == ["benchmark", "figure", "value", "target", "met", "note"]
    assert out[3].split() == ["x", "a", "figure", "1.5", "s", "<=", "2", "s", "yes", "note"]


def test_the_test_command_benchmark_reads_junit_per_file(tmp_path):
    import xml.etree.ElementTree as ET

    from test_command import counts, per_file

    (tmp_path / "junit.xml").write_text(
        '<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="2" tests="5">'
        '<testcase classname="tests.test_pipeline" name="a" time="1.5"/>'
        '<testcase classname="tests.test_pipeline" name="b" time="2.0"/>'
        '<testcase classname="tests.test_cli.TestRun" name="c" time="0.25"/>'
        '</testsuite></testsuites>')
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert per_file(root) == {"test_pipeline.py": 3.5, "test_cli.py": 0.25}
    assert counts(root) == {"tests": 5, "failures": 1, "errors": 0, "skipped": 2}
