"""course_utils.multiworker: the helpers (fast), and two real workers on localhost (slow)."""

from __future__ import annotations

import json
import socket

import pytest

from course_utils import multiworker as mw


def test_free_ports_are_distinct_and_bindable():
    ports = mw.free_ports(2)
    assert len(set(ports)) == 2
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("localhost", port))  # raises if the port were taken


def test_tf_config_lists_every_worker_and_names_this_one():
    config = mw.tf_config([1111, 2222], index=1)
    assert config == {
        "cluster": {"worker": ["localhost:1111", "localhost:2222"]},
        "task": {"type": "worker", "index": 1},
    }
    json.dumps(config)  # TF_CONFIG must be JSON


def test_linear_scaling_rule():
    assert mw.scaled_learning_rate(0.05, base_batch=32, global_batch=64) == pytest.approx(0.1)
    assert mw.scaled_learning_rate(0.1, base_batch=256, global_batch=8192) == pytest.approx(3.2)


def test_a_batch_that_cannot_be_split_is_refused_before_any_worker_starts():
    for steps, batch in [(0, 32), (5, 33), (5, 1)]:
        with pytest.raises(ValueError, match="divisible"):
            mw.run_workers(steps=steps, global_batch=batch)


@pytest.mark.slow
def test_a_failing_worker_is_reported_with_its_log(monkeypatch, tmp_path):
    # workers that read a broken MNIST file crash: run_workers must raise, not hang
    broken = tmp_path / "mnist.npz"
    broken.write_bytes(b"not an npz file")
    monkeypatch.setenv("COURSE_DATA_DIR", str(broken))
    with pytest.raises(RuntimeError, match="failed"):
        mw.run_workers(steps=1, global_batch=2, timeout=120)


@pytest.mark.slow
def test_two_workers_split_the_batch_and_end_with_identical_weights():
    result = mw.run_workers(steps=5, global_batch=32, base_lr=0.05, base_batch=16)
    assert result["settings"]["learning_rate"] == pytest.approx(0.1)
    first, second = result["workers"]
    assert first["replicas_in_sync"] == second["replicas_in_sync"] == 2
    assert first["batch_sizes"] == second["batch_sizes"] == [16] * 5
    assert first["losses"] == second["losses"]  # the all-reduced loss of every step
    assert first["losses"][-1] < first["losses"][0]
    assert result["max_weight_difference"] < 1e-6
    assert all(100 < w["peak_mb"] < 4096 for w in result["workers"])
    assert result["n_weights"] == 784 * 32 + 32 + 32 * 10 + 10
