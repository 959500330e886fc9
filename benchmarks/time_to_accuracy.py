"""Seconds of training to a target test accuracy: the seed recipe against the course's, same model.

    .venv/bin/python benchmarks/time_to_accuracy.py                  # MLP and convnet, 3 repeats
    .venv/bin/python benchmarks/time_to_accuracy.py --model mlp --repeats 5

For each model the two recipes of `course_utils.recipes` are raced in turn (seed, course, seed,
course, ...) so that both see the same machine load, each from its own seeded initialization.
The clock counts training only; test accuracy is checked four times per epoch with the clock
stopped, and a race stops at the target (MLP 97.5 %, convnet 99.0 %). Prints the median seconds
of each recipe with their spread, and the ratio seed / course (targets: 5x for the MLP, 3x for
the convnet) on the last line, with the device it ran on.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
from dataclasses import fields, replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from course_utils import recipes
from course_utils.data import load_mnist
from course_utils.runtime import setup

RACES = {
    "mlp": (recipes.SEED_MLP, recipes.COURSE_MLP, 0.975, 5.0),
    "convnet": (recipes.SEED_CONVNET, recipes.COURSE_CONVNET, 0.990, 3.0),
}


def differences(a: recipes.Recipe, b: recipes.Recipe) -> str:
    """The settings in which two recipes differ, as 'batch_size 32 -> 256, ...'."""
    return ", ".join(f"{name} {was} -> {now}" for name, (was, now) in recipes.changes(a, b).items())


def shown(result: recipes.RaceResult) -> str:
    """Seconds to the target, or the accuracy reached instead."""
    return f"{result.seconds:.1f} s" if result.seconds is not None else f"not reached ({result.accuracy:.2%})"


def spread(values: list[float]) -> str:
    """Median, minimum and maximum of repeated timings."""
    return f"median {statistics.median(values):.1f} s (min {min(values):.1f}, max {max(values):.1f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=[*RACES, "all"], default="all")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--ablate", action="store_true", help="also race the course recipe with each change undone in turn (once)"
    )
    args = parser.parse_args(argv)
    info = setup(seed=0, verbose=False)
    precision = recipes.resolve_precision("auto")
    print(f"device: {info.device} ({info.device_name}); course recipes compute in {precision}")
    data = load_mnist()
    x, y = data.x_train[..., None], data.y_train
    x_test, y_test = data.x_test[..., None], data.y_test
    summary = []
    for model in RACES if args.model == "all" else [args.model]:
        seed_recipe, course_recipe, target, goal = RACES[model]
        changes = differences(seed_recipe, course_recipe)
        print(f"\n{model}: target {target:.1%} test accuracy; the course recipe changes {changes}")
        times: dict[str, list[float]] = {seed_recipe.name: [], course_recipe.name: []}
        for repeat in range(args.repeats):
            for recipe in (seed_recipe, course_recipe):
                result = recipes.race(recipe, x, y, x_test, y_test, target, seed=repeat)
                times[recipe.name].append(result.seconds if result.seconds is not None else float("inf"))
                print(f"  repeat {repeat + 1}: {recipe.name:30s} {shown(result)}", flush=True)
        seed_times, course_times = times[seed_recipe.name], times[course_recipe.name]
        if math.isinf(statistics.median(seed_times)) or math.isinf(statistics.median(course_times)):
            summary.append(f"{model}: no ratio, a recipe missed the target in most repeats")
            continue
        ratio = statistics.median(seed_times) / statistics.median(course_times)
        print(f"  {seed_recipe.name}: {spread(seed_times)}")
        print(f"  {course_recipe.name}: {spread(course_times)}")
        if args.ablate:
            print("  which settings make the difference (each undone in turn, one run):")
            for field in fields(seed_recipe):
                if field.name in ("name", "epochs", "warmup_fraction"):
                    continue  # the horizon and the warm-up go with the schedule
                before = getattr(seed_recipe, field.name)
                if before == getattr(course_recipe, field.name):
                    continue
                variant = replace(course_recipe, name=f"without {field.name}", **{field.name: before})
                result = recipes.race(variant, x, y, x_test, y_test, target, seed=0)
                print(f"    {field.name} back to {before}: {shown(result)}", flush=True)
        summary.append(f"{model} {ratio:.1f}x (target {goal:g}x{'' if ratio >= goal else ', MISSED'})")
    print(f"time to accuracy, seed / course recipe on {info.device} ({os.cpu_count()} cores): " + "; ".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
