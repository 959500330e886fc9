"""Helpers for the course "Gradients, losses, optimizers and regularization with Keras on MNIST".

One module per concern, each readable on its own:

- ``course_utils.data``       loading and verifying MNIST
- ``course_utils.runtime``    quiet logs, seeds, the training device
- ``course_utils.plots``      training curves, digit grids, confusion matrices
- ``course_utils.training``   clean per-epoch logging for static pages
- ``course_utils.experiments`` a lean training loop, runs over seeds, results tables with spread
- ``course_utils.regularization`` weight statistics, weight histograms, side-by-side curves
- ``course_utils.checking``   verdicts and the building blocks of every check
- ``course_utils.exercises``  visible checks of the graded exercises
- ``course_utils.grading``    the hidden-check kit that instructors write hidden checks with
- ``course_utils.grade``      the instructors' grader (``python -m course_utils.grade``)

Importing the package imports neither TensorFlow nor Keras.
"""

__version__ = "0.2.0"  # the only place the version is written; see CHANGELOG.md
