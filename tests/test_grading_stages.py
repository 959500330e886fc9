"""The grader's pure stages, without a kernel: output collection, kernel-side sources, reports, CLI."""

from __future__ import annotations

import ast
import builtins
import inspect

import nbformat
import pytest

from course_utils import grade as g
from course_utils.grading import kernel_side, runner


def executed(outputs_per_cell: list[list[dict]]) -> nbformat.NotebookNode:
    """A notebook whose cells carry the given outputs, as if a kernel had run it."""
    nb = nbformat.v4.new_notebook()
    for outputs in outputs_per_cell:
        cell = nbformat.v4.new_code_cell("pass")
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        nb.cells.append(cell)
    return nb


def export(exercise_id: str, text: str) -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": {g.EXPORT_MIME: {"id": exercise_id, "json": text}}}


def error(ename: str, evalue: str = "") -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": []}


def test_collect_outputs_reads_exports_and_notes_without_a_kernel():
    nb = executed(
        [
            [],  # the guard cell
            [error("NameError", "name 'x' is not defined")],  # a student's cell
            [error(runner.TIMEOUT_ENAME)],  # a student's cell over its limit
            [error("PermissionError", f"{g.DENIED_MARK}: open /secret")],
            [export("ch97.a", '{"value": 1}')],  # export of ch97.a
            [],  # export of ch97.b timed out
            [export("ch97.c", '{"value": 2}'), export("ch97.c", '{"value": 3}')],  # two payloads: forged
        ]
    )
    limits = g.Limits(cell_timeout=5, max_output_kb=1)
    planned = [nbformat.v4.new_code_cell("x"), nbformat.v4.new_code_cell("y"), nbformat.v4.new_code_cell("z")]
    planned[0].metadata["course"] = {"exercise": "ch97.a"}
    result = g.collect_outputs(
        nb,
        ["ch97.a", "ch97.b", "ch97.c"],
        timed_out={2, 5},
        limits=limits,
        flooded=True,
        output_size=4096,
        positions=[7, 9, 12],
        planned=planned,
    )
    assert result.exports == {"ch97.a": '{"value": 1}'}
    assert result.forged == ["ch97.c"]
    assert result.timed_out == {"ch97.b"}
    assert result.cell_errors == {0: "NameError"}
    notes = " | ".join(result.notes)
    # cells are named by their number among all the notebook's cells, as the student sees them
    assert "The exercise cell of ch97.a (cell 7 of the notebook) raised NameError" in notes
    assert "Cell 9 of the notebook did not finish within 5 s" in notes
    assert runner.TIMEOUT_ENAME not in notes and "Cell 12 of the notebook tried a forbidden" in notes
    assert "more than 1 KiB" in notes and "interrupted" in notes
    assert result.denied == [f"{g.DENIED_MARK}: open /secret"]


def test_a_failing_guard_cell_is_a_grading_error_not_a_note():
    result = g.collect_outputs(executed([[error("ImportError")], []]), ["ch97.a"], set(), g.Limits())
    assert result.notes == [] and "the guard cell failed: ImportError" in result.grader_error


@pytest.mark.parametrize("fn", [kernel_side._guard, kernel_side._cap_output, kernel_side._export_one, g.encode_default])
def test_kernel_side_code_uses_no_module_level_name(fn):
    """Shipped as source into the student's kernel, these functions may only use their arguments,
    their own imports and builtins."""
    tree = ast.parse(inspect.getsource(fn))
    local = {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    local |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    local |= {
        (a.asname or a.name).split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    }
    local |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ExceptHandler)) and n.name}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    assert used - local - set(dir(builtins)) == set()


def test_export_cell_source_runs_standalone(monkeypatch):
    """The export cell's source defines what it needs and passes the constants it uses."""
    chapter = g.HiddenChapter("ch97", {"ch97.a": "_export = 2 * x"}, {}, {"ch97.a": 1.0}, prelude="")
    ((exercise_id, source),) = g.export_cells_source(chapter, ["ch97.a"], 1000)
    shown = []
    import IPython.display

    class Shell:
        user_ns = {"x": 21}

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw: shown.append(obj))
    exec(compile(source, "<export cell>", "exec"), {})
    assert exercise_id == "ch97.a" and shown == [{g.EXPORT_MIME: {"id": "ch97.a", "json": '{"value": 42}'}}]


def test_cli_builds_limits_by_keyword_with_every_flag(tmp_path):
    settings = g.parse_args(
        [
            str(tmp_path),
            "--instructor",
            str(tmp_path),
            "--max-export-kb",
            "64",
            "--memory-mb",
            "900",
            "--cell-timeout",
            "7",
            "--disk-mb",
            "128",
        ]
    )
    assert settings.limits == g.Limits(cell_timeout=7, memory_mb=900, max_export_kb=64, disk_mb=128)


def test_cli_reports_misuse_with_exit_code_2(tmp_path, capsys):
    assert g.main([str(tmp_path / "nothing"), "--instructor", str(tmp_path / "none")]) == 2
    assert "course-grade: error: instructor tree not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    "payload",
    [
        '{"value": {"__ndarray__": [100000000000000000000000000000], "dtype": "int64", "shape": [1]}}',
        '{"value": {"__ndarray__": [1, 2], "dtype": "int8", "shape": ["2"]}}',
        '{"value": {"__ndarray__": [1, 2], "dtype": "int8", "shape": [3]}}',
        '{"value": {"__ndarray__": [[1], [1, 2]], "dtype": "float64", "shape": [2]}}',
        '{"value": {"__ndarray__": [1], "dtype": "float64", "shape": [4294967296]}}',
        '{"value": ' + "1" * 5000 + "}",
        "[" * 100000 + "]" * 100000,
    ],
    ids=["int-overflow", "shape-type", "shape-size", "ragged", "huge-shape", "5000-digits", "deep"],
)
def test_the_decoder_refuses_malformed_payloads_with_a_value_error(payload):
    with pytest.raises(ValueError, match="malformed"):
        g.decode(payload, max_chars=10**6)


def test_the_planner_survives_any_json(tree_for_plans):
    for raw, note in [
        (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
        (b'{"cells": [], "metadata": {"course": {"chapter": ' + b"9" * 5000 + b"}}}", "invalid JSON"),
        (
            b'{"cells": [{"cell_type": "code", "metadata": {"course": {"exercise": {"a": 1}}}}]}',
            "not a course notebook",
        ),
        (b'{"cells": "no"}', "no list of cells"),
        (b"\xff\xfe", "invalid JSON"),
    ]:
        plan = g.plan_submission(raw, tree_for_plans, "ch97")
        assert plan.fatal is not None and note in plan.fatal, (raw[:30], plan.fatal)


@pytest.fixture
def tree_for_plans():
    chapter = g.HiddenChapter("ch97", {"ch97.a": ""}, {"ch97.a": lambda s, r: None}, {"ch97.a": 1.0})
    return g.InstructorTree(root=None, chapters={"ch97": chapter}, digest="")
