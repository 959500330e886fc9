"""Data-parallel training over two worker processes on this machine (chapter 3, part 2).

``MultiWorkerMirroredStrategy`` keeps one copy (replica) of the model per worker; every step, each
worker computes the gradients of its share of the global batch, the workers all-reduce (sum) them
over the network, and every replica applies the same update. Here both workers are processes of
this machine that talk over localhost, as two machines of a cluster would::

    python -m course_utils.multiworker            # prints the result as JSON

:func:`run_workers` picks two free ports, writes each worker's ``TF_CONFIG``, starts the workers
(``python -m course_utils.multiworker --worker I ...``), waits for both, and returns what they
recorded: the size of each worker's per-step batch, the loss of every step, and how far apart the
final weights of the two replicas are.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def free_ports(n: int) -> list[int]:
    """n TCP ports on localhost that are free right now (the OS picks them)."""
    sockets, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("localhost", 0))
            sockets.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


def tf_config(ports: list[int], index: int) -> dict[str, Any]:
    """The TF_CONFIG of worker ``index`` in a cluster of workers on localhost."""
    return {"cluster": {"worker": [f"localhost:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}


def scaled_learning_rate(base_lr: float, base_batch: int, global_batch: int) -> float:
    """The linear scaling rule (Goyal et al. 2017): the rate grows with the global batch."""
    return base_lr * global_batch / base_batch


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (Linux reports kB, macOS bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


def worker(index: int, config: dict[str, Any], settings: dict[str, Any], out: Path) -> None:
    """One worker: train a small MLP on an MNIST subset under MultiWorkerMirroredStrategy."""
    os.environ["TF_CONFIG"] = json.dumps(config)
    from course_utils.runtime import import_tensorflow

    tf = import_tensorflow()
    import keras

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    global_batch = settings["global_batch"]
    steps = settings["steps"]

    from course_utils.data import load_mnist

    data = load_mnist(train_size=global_batch * steps, test_size=100, flatten=True)
    dataset = tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train.astype("int32")))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.batch(global_batch, drop_remainder=True).with_options(options)

    keras.utils.set_random_seed(settings["seed"])
    with strategy.scope():
        model = keras.Sequential(
            [keras.Input((784,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)]
        )
        optimizer = keras.optimizers.SGD(settings["learning_rate"], momentum=0.9)
    xent = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")

    @tf.function
    def step(x, y):
        def replica_step(x, y):
            with tf.GradientTape() as tape:
                per_example = xent(y, model(x, training=True))
                # divide by the *global* batch: summing the replicas' gradients gives the mean
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))  # all-reduces
            return loss, tf.shape(x)[0]

        loss, size = strategy.run(replica_step, args=(x, y))
        total = strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
        return total, strategy.experimental_local_results(size)[0]

    losses, sizes = [], []
    for x, y in strategy.experimental_distribute_dataset(dataset):
        loss, size = step(x, y)
        losses.append(float(loss))
        sizes.append(int(size))
    weights = [w.numpy() for w in model.trainable_variables]
    np.savez(out / f"weights_{index}.npz", *weights)
    record = {
        "worker": index,
        "replicas_in_sync": int(strategy.num_replicas_in_sync),
        "batch_sizes": sizes,
        "losses": losses,
        "peak_mb": peak_rss_mb(),
    }
    (out / f"worker_{index}.json").write_text(json.dumps(record))


def run_workers(
    steps: int = 20,
    global_batch: int = 64,
    base_lr: float = 0.05,
    base_batch: int = 32,
    seed: int = 0,
    n_workers: int = 2,
    timeout: float = 240.0,
) -> dict[str, Any]:
    """Start ``n_workers`` worker processes on localhost, wait for them, return their results.

    The learning rate is ``base_lr`` scaled linearly from ``base_batch`` to ``global_batch``.
    Raises RuntimeError (with the workers' logs) if a worker fails or times out.
    """
    if steps < 1 or global_batch < n_workers or global_batch % n_workers:
        raise ValueError(f"need steps >= 1 and a global batch divisible by {n_workers} workers")
    lr = scaled_learning_rate(base_lr, base_batch, global_batch)
    settings = {"steps": steps, "global_batch": global_batch, "learning_rate": lr, "seed": seed}
    ports = free_ports(n_workers)
    with tempfile.TemporaryDirectory(prefix="multiworker-") as tmp:
        out = Path(tmp)
        procs = []
        for i in range(n_workers):
            cmd = [
                sys.executable,
                "-m",
                "course_utils.multiworker",
                "--worker",
                str(i),
                "--config",
                json.dumps(tf_config(ports, i)),
                "--settings",
                json.dumps(settings),
                "--out",
                tmp,
            ]
            log = open(out / f"log_{i}.txt", "w")
            procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
        failed = []
        for i, (proc, log) in enumerate(procs):
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                code = "timeout"
            log.close()
            if code != 0:
                failed.append((i, code))
        if failed:
            for proc, _ in procs:  # a survivor waits forever for its peer
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            logs = "\n".join((out / f"log_{i}.txt").read_text()[-2000:] for i, _ in failed)
            raise RuntimeError(f"workers {failed} failed:\n{logs}")
        records = [json.loads((out / f"worker_{i}.json").read_text()) for i in range(n_workers)]
        weights = []
        for i in range(n_workers):
            with np.load(out / f"weights_{i}.npz") as f:
                weights.append([f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))])
    diff = max(float(np.max(np.abs(a - b))) for other in weights[1:] for a, b in zip(weights[0], other, strict=True))
    return {
        "settings": settings,
        "base_lr": base_lr,
        "base_batch": base_batch,
        "workers": records,
        "max_weight_difference": diff,
        "n_weights": int(sum(w.size for w in weights[0])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=int, help="run as this worker (started by run_workers)")
    parser.add_argument("--config", help="the worker's TF_CONFIG as JSON")
    parser.add_argument("--settings", help="steps, global_batch, learning_rate, seed as JSON")
    parser.add_argument("--out", help="folder for the worker's results")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--global-batch", type=int, default=64)
    args = parser.parse_args(argv)
    if args.worker is not None:
        worker(args.worker, json.loads(args.config), json.loads(args.settings), Path(args.out))
        return 0
    print(json.dumps(run_workers(steps=args.steps, global_batch=args.global_batch)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
