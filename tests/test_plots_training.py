"""Tests of course_utils.plots and course_utils.training."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils import plots
from course_utils.training import format_logs


def test_confusion_matrix_counts():
    cm = plots.confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 2, 1], num_classes=3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 2]]
    assert cm.sum() == 5


def test_confusion_matrix_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        plots.confusion_matrix([0, 1], [0])


def test_plot_history_draws_train_and_validation():
    hist = {
        "loss": [1.0, 0.5, 0.3],
        "val_loss": [1.1, 0.7, 0.6],
        "accuracy": [0.5, 0.8, 0.9],
        "val_accuracy": [0.4, 0.7, 0.8],
    }
    fig = plots.plot_history(hist)
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert [line.get_label() for line in ax.get_lines()] == ["training", "validation"]
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), hist["val_loss"])


def test_plot_history_rejects_unknown_metric_and_bad_input():
    with pytest.raises(KeyError, match="not in the history"):
        plots.plot_history({"loss": [1.0]}, metrics=["accuracy"])
    with pytest.raises(ValueError, match="Keras History"):
        plots.plot_history([1, 2, 3])


def test_plot_digits_marks_wrong_predictions_in_red():
    images = np.zeros((3, 784))
    fig = plots.plot_digits(images, labels=[1, 2, 3], predictions=[1, 5, 3], ncols=3)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["label 1", "label 2", "label 3"]  # the label is never coloured
    assert all(ax.title.get_color() == "black" for ax in fig.axes)
    preds = [ax.texts[0] for ax in fig.axes]
    assert [t.get_text() for t in preds] == ["pred 1", "pred 5", "pred 3"]
    assert [t.get_color() for t in preds] == ["black", plots.VAL_COLOR, "black"]


def test_plot_digits_rejects_bad_shapes():
    with pytest.raises(ValueError, match="Expected images"):
        plots.plot_digits(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="No images"):
        plots.plot_digits(np.zeros((0, 28, 28)))


def test_plot_confusion_matrix_labels_axes():
    fig = plots.plot_confusion_matrix([0, 1, 1], [0, 1, 0], num_classes=2)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert sorted(t.get_text() for t in ax.texts) == ["1", "1", "1"]


def test_format_logs_is_one_plain_line():
    line = format_logs(3, 10, {"loss": 0.12345, "val_loss": 0.2, "learning_rate": 0.001}, 2.04)
    assert line == "epoch  3/10  loss 0.1235  val_loss 0.2000  (2.0 s)"
    assert "\r" not in line and "\b" not in line and "\x1b" not in line


def test_importing_course_utils_has_no_side_effects():
    """No module imports TensorFlow or Keras, or changes warning filters, merely by being imported."""
    import subprocess
    import sys

    code = (
        "import sys, warnings, numpy, matplotlib.pyplot, nbformat; before = list(warnings.filters)\n"
        "import course_utils, course_utils.checking, course_utils.data, course_utils.exercises, "
        "course_utils.grade, course_utils.gradients, course_utils.grading.kit, course_utils.plots, "
        "course_utils.runtime, course_utils.training\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules), warnings.filters == before)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True", out


def test_figures_are_drawn_at_twice_their_size_and_record_their_smallest_text():
    import base64
    import struct

    plots.use_course_style()
    assert matplotlib.rcParams["savefig.dpi"] == 2 * matplotlib.rcParams["figure.dpi"]
    fig = plots.plot_contours(lambda x, y: x**2 + y**2, (-1, 1), (-1, 1), paths=[np.zeros((2, 2))], labels=["a"])
    data, shown = plots.figure_png(fig)
    png = base64.b64decode(data)
    width, height = struct.unpack(">II", png[16:24])
    assert (width // 2, height // 2) == (shown["width"], shown["height"])
    assert 300 < shown["width"] < 600  # a 5-inch figure at 100 dpi, trimmed
    # the contour labels (9 pt) are its smallest text: 9 pt at 100 dpi is 12.5 px
    assert plots.png_text(png)[plots.TEXT_KEY] == "12.5"
    assert plots.smallest_text_pt(plt.figure()) is None


def test_shown_text_size_follows_the_figure_width_and_the_column():
    # at its own size (narrower than the column) 10 pt is 13.9 px; scaled to the column, less
    assert plots.shown_text_px(8.0, 10, plots.COLUMN_PX["desktop"]) == pytest.approx(1000 / 72)
    assert plots.shown_text_px(8.0, 10, 342) == pytest.approx(1000 / 72 * 342 / 800)
    assert plots.shown_text_px(16.22, 10, 811) == pytest.approx(1000 / 72 / 2, rel=1e-3)
    with pytest.raises(ValueError, match="positive"):
        plots.shown_text_px(0, 10, 811)


def test_the_widest_readable_figure_is_set_by_the_phone():
    for pt in (8, 9, 10, 12):
        widest = plots.widest_figure_in(pt)
        shown = {s: plots.shown_text_px(widest, pt, c) for s, c in plots.COLUMN_PX.items()}
        assert min(shown[s] - plots.READABLE_PX[s] for s in shown) == pytest.approx(0, abs=1e-9)
        assert shown["phone"] == pytest.approx(plots.READABLE_PX["phone"])  # the phone decides
        assert plots.shown_text_px(widest * 1.01, pt, plots.COLUMN_PX["phone"]) < plots.READABLE_PX["phone"]
    assert plots.widest_figure_in(8) == pytest.approx(12.67, abs=0.01)
    assert plots.widest_figure_in(4) == 0.0  # 5.6 px at its own size: below 7 px on a laptop


@pytest.mark.parametrize(
    "draw",
    [
        lambda: plots.plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}),
        lambda: plots.plot_history({k: [1.0, 0.5] for k in ("loss", "val_loss", "accuracy", "val_accuracy")}),
        lambda: plots.plot_digits(np.zeros((16, 28, 28)), labels=[1] * 16, predictions=[2] * 16),
        lambda: plots.plot_confusion_matrix(np.arange(100) % 10, np.arange(100) % 7),
        lambda: plots.plot_contours(lambda x, y: x**2 + y**2, (-1, 1), (-1, 1), paths=[np.zeros((2, 2))], labels=["a"]),
    ],
    ids=["history", "history-2-panels", "digits", "confusion", "contours"],
)
def test_the_course_plots_are_readable_on_a_laptop_and_a_phone(draw):
    plots.use_course_style()
    fig = draw()
    _, shown = plots.figure_png(fig)  # its width as saved, in px at its size
    smallest = plots.smallest_text_pt(fig)
    for screen, column in plots.COLUMN_PX.items():
        px = plots.shown_text_px(shown["width"] / fig.dpi, smallest, column)
        assert px >= plots.READABLE_PX[screen], f"{screen}: {px:.1f} px"
    assert shown["width"] / fig.dpi <= plots.widest_figure_in(smallest)
    plt.close(fig)


def test_use_course_style_shows_figures_in_a_notebook_through_figure_png(monkeypatch):
    import IPython
    from matplotlib.figure import Figure

    registered = {}

    class Formatter:
        def for_type(self, kind, function):
            registered[kind] = function

    class Shell:
        display_formatter = type("Display", (), {"formatters": {"image/png": Formatter()}})()

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    plots.use_course_style()
    assert registered == {Figure: plots.figure_png}


@pytest.mark.kernel
def test_in_a_notebook_every_figure_is_drawn_at_twice_its_size():
    """In a real kernel, figures shown or glued after use_course_style() come from figure_png, even
    though Jupyter's inline backend starts later and registers its own formatter."""
    import nbclient
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("from course_utils.plots import use_course_style, plot_history\nuse_course_style()"),
        nbformat.v4.new_code_cell(
            "from course_utils.glue import glue\n"
            "glue('f', plot_history({'loss': [1.0, 0.5]}), display=False)\n"
            "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()"
        ),
    ]
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = [o for o in notebook.cells[1].outputs if any(k.endswith("image/png") for k in o.get("data", {}))]
    assert len(outputs) == 2
    for output in outputs:
        assert set(output["metadata"]["image/png"]) == {"width", "height"}, output["metadata"]
