"""How much do verification and the helper's conveniences cost over a bare numpy.load?

Prints the median time of each over several repetitions, their ratio, and the peak memory the
helper allocates relative to the size of the float32 arrays it returns.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc

import numpy as np

from course_utils import data


def bare_load() -> tuple[np.ndarray, ...]:
    """The baseline: read the four arrays and scale the images, no checks."""
    with np.load(data.local_source(), allow_pickle=False) as npz:
        return (
            npz["x_train"].astype("float32") / 255.0,
            npz["y_train"],
            npz["x_test"].astype("float32") / 255.0,
            npz["y_test"],
        )


def median_seconds(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_bytes(fn) -> int:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    if data.local_source() is None:
        raise SystemExit(f"Set {data.ENV_VAR} to a folder holding mnist.npz to run this benchmark.")
    base = median_seconds(bare_load)
    helper = median_seconds(data.load_mnist)
    result_bytes = sum(a.nbytes for a in data.load_mnist() if a is not None)
    print(f"numpy.load + scale   {base * 1000:8.1f} ms")
    print(f"load_mnist()         {helper * 1000:8.1f} ms")
    print(f"time ratio           {helper / base:8.2f}  (target < 3)")
    print(
        f"peak memory ratio    {peak_bytes(data.load_mnist) / result_bytes:8.2f}  "
        f"(peak allocation / returned arrays; baseline {peak_bytes(bare_load) / result_bytes:.2f})"
    )


if __name__ == "__main__":
    main()
