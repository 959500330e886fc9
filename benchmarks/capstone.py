"""The capstone recipe (chapter 5) over several seeds: test accuracy and training time.

    .venv/bin/python benchmarks/capstone.py             # 3 seeds, about 4 minutes each on 2 cores
    .venv/bin/python benchmarks/capstone.py --seeds 5

Chapter 5 trains `course_utils.recipes.CAPSTONE` once (seed 0) and asserts at least 99.5 % test
accuracy; it asserts no seconds (wall-clock targets live here, not in notebooks). One seed can be
lucky; this benchmark trains the same recipe
from several seeds, in turn, and reports the median and the range of the final test accuracy
and of the training seconds (the clock stops while the test images are evaluated, once per
epoch). The last line says whether the median meets the target (99.5 % within 300 s), and how
it compares with the 99.6 % the course aims for.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from course_utils import recipes
from course_utils.data import load_mnist
from course_utils.runtime import setup

TARGET, AIM, BUDGET_SECONDS = 0.995, 0.996, 300.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds to train (0, 1, ...)")
    args = parser.parse_args(argv)
    info = setup(seed=0, verbose=False)
    recipe = recipes.CAPSTONE
    print(f"device: {info.device} ({info.device_name}); computes in {recipes.resolve_precision(recipe.precision)}")
    data = load_mnist()
    x, y, x_test, y_test = data.x_train[..., None], data.y_train, data.x_test[..., None], data.y_test
    accuracies, seconds = [], []
    for seed in range(args.seeds):
        result = recipes.race(recipe, x, y, x_test, y_test, target=None, seed=seed, checks_per_epoch=1)
        accuracies.append(result.accuracy)
        seconds.append(result.curve[-1][0])
        reached = recipes.seconds_to(result.curve, TARGET)
        when = f"{reached:.0f} s" if reached is not None else "never"
        print(
            f"  seed {seed}: {result.accuracy:.2%} after {seconds[-1]:.0f} s of training "
            f"({recipe.epochs} epochs); first at {TARGET:.1%}: {when}",
            flush=True,
        )
    acc, sec = statistics.median(accuracies), statistics.median(seconds)
    met = acc >= TARGET and sec <= BUDGET_SECONDS
    print(
        f"capstone over {args.seeds} seeds on {info.device} ({os.cpu_count()} cores): median test accuracy "
        f"{acc:.2%} (min {min(accuracies):.2%}, max {max(accuracies):.2%}), median training {sec:.0f} s "
        f"(max {max(seconds):.0f}); target {TARGET:.1%} within {BUDGET_SECONDS:.0f} s "
        f"{'met' if met else 'MISSED'}; aim {AIM:.1%} {'met' if acc >= AIM else 'not met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
