"""Helpers for the course "Gradients, losses, optimizers and regularization with Keras on MNIST".

One module per concern, each readable on its own:

- ``course_utils.data``           loading and verifying MNIST
- ``course_utils.runtime``        quiet logs, seeds, the training device
- ``course_utils.plots``          training curves, digit grids, confusion matrices, contours
- ``course_utils.training``       clean per-epoch logging, the chapter 1 training loops
- ``course_utils.gradients``      gradient norms and relative errors (chapter 1)
- ``course_utils.metrics``        calibration (reliability bins, ECE), precision and recall
- ``course_utils.experiments``    a lean training loop, runs over seeds, results with their spread
- ``course_utils.compare``        two settings compared over seeds: a difference, its interval, a verdict
- ``course_utils.regularization`` weight statistics, weight histograms, side-by-side curves
- ``course_utils.recipes``        training recipes and the time-to-accuracy race (benchmarks)
- ``course_utils.checking``       verdicts and the building blocks of every check
- ``course_utils.exercises``      visible checks of the graded exercises
- ``course_utils.grading``        the hidden-check kit that instructors write hidden checks with
- ``course_utils.grade``          the instructors' grader (``python -m course_utils.grade``)
- ``course_utils.provenance``     stamps proving the book's outputs come from the current code
- ``course_utils.glue``           numbers and figures named for the book's prose, without the book's packages
- ``course_utils.release``        the chapters' install cells and the release they pin (Colab)

Importing the package imports neither TensorFlow nor Keras.
"""

__version__ = "0.3.0"  # the only place the version is written; see CHANGELOG.md
