"""The hidden-check kit (course_utils.grading.kit): kernel helpers and judge building blocks, no kernel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from course_utils import grade as g
from course_utils.checking import CheckFailed, Verdict, fail
from course_utils.grading.kit import KERNEL_HELPERS, QUIZ_EXPORT, each_case, ok, quiz_judge, snippet


def run_snippet(source: str, **namespace) -> dict:
    """Run a snippet the way the grader runs a reference export, with a given namespace."""
    exec(compile(snippet(source), "<snippet>", "exec"), namespace)
    return g.decode(g.encode(namespace["_export"]))


def stopped(fn, *args) -> str:
    with pytest.raises(CheckFailed) as info:
        fn(*args)
    return info.value.verdict.message


def test_call_records_results_errors_stubs_and_missing_functions():
    def stub(x):
        raise NotImplementedError

    out = run_snippet(
        '_export = [_call("f", 2), _call("stub", 1), _call("boom", 1), _call("absent"), _call("number")]',
        f=lambda x: np.arange(x),
        stub=stub,
        boom=lambda x: 1 / 0,
        number=3,
    )
    assert out[0]["ok"].tolist() == [0, 1]
    assert "NotImplementedError" in out[1]["error"]
    assert "ZeroDivisionError" in out[2]["error"]
    assert "absent is not defined" in out[3]["error"]
    assert "should be a function" in out[4]["error"]


def test_plain_makes_any_result_exportable():
    class Thing:
        pass

    out = run_snippet(
        '_export = _call("f")', f=lambda: (np.float32(1.5), [np.int64(2)], {"a": Thing()}, np.array(["x"]), None)
    )
    assert out["ok"] == [
        1.5,
        [2],
        {"a": {"__object__": "an object of type Thing"}},
        {"__object__": "an array of <U1"},
        None,
    ]


def test_run_keeps_the_object():
    namespace = {"f": lambda: object}
    exec(compile(KERNEL_HELPERS + "\n_r = _run('f')", "<s>", "exec"), namespace)
    assert namespace["_r"]["ok"] is object


def test_ok_and_each_case_fail_with_specific_messages():
    assert ok({"ok": [1]}, "f") == [1]
    assert "f raised ValueError: x" in stopped(ok, {"error": "ValueError: x"}, "f")
    assert "forget `return`" in stopped(ok, {"ok": None}, "f")
    assert ok({"ok": None}, "f", allow_none=True) is None
    assert "not numbers" in stopped(ok, {"ok": {"__object__": "Model"}}, "f")
    student = {"cases": [{"ok": 1.0}, {"error": "KeyError: 'a'"}]}
    reference = {"cases": [{"ok": 1.0, "n": 3}, {"ok": 2.0, "n": 4}]}
    seen = []
    with pytest.raises(CheckFailed, match=r"Hidden case 2: f raised KeyError"):
        for i, got, exp in each_case(student, reference, "f"):
            seen.append((i, got, exp["n"]))
    assert seen == [(1, 1.0, 3)]
    assert "could not read" in stopped(lambda: list(each_case({"cases": []}, reference, "f")))


def test_quiz_judge_scores_and_explains_only_the_wrong_answers():
    judge = quiz_judge({"q1": "Because A.", "q2": "Half of it.", "q3": "Ten."})
    reference = {"answers": {"q1": "A", "q2": 0.5, "q3": 10}}
    right = judge({"answers": {"q1": "a ", "q2": 0.5001, "q3": 10.0}}, reference)
    assert right.passed and right.fraction == 1.0 and right.details == ()
    wrong = judge({"answers": {"q1": "B", "q2": 0.5, "q3": None}}, reference)
    assert not wrong.passed and wrong.fraction == pytest.approx(1 / 3)
    assert wrong.details == ("**q1** (your answer: 'B'). Because A.", "**q3** (not answered). Ten.")
    assert judge({"answers": None}, reference).fraction == 0.0
    assert judge({"answers": {"q1": True, "q2": "0.5", "q3": float("nan")}}, reference).fraction == pytest.approx(1 / 3)


def test_quiz_judge_compares_a_question_with_its_own_tolerance():
    judge = quiz_judge({"q1": "A count.", "q2": "A rate."}, tolerances={"q1": 0})
    reference = {"answers": {"q1": 4711, "q2": 0.5273}}
    assert judge({"answers": {"q1": 4711.0, "q2": 0.527}}, reference).passed
    floor = judge({"answers": {"q1": 4705, "q2": 0.527}}, reference)  # within 2e-3, but not exact
    assert not floor.passed and floor.fraction == 0.5
    with pytest.raises(ValueError, match="q9"):
        quiz_judge({"q1": "A count."}, tolerances={"q9": 0})


def test_quiz_export_reduces_answers_to_plain_values():
    out = run_snippet(QUIZ_EXPORT, quiz_answers={"q1": "B", "q2": np.float64(0.25), "q3": object()})
    assert out["answers"]["q1"] == "B" and out["answers"]["q2"] == 0.25 and isinstance(out["answers"]["q3"], str)
    assert run_snippet(QUIZ_EXPORT)["answers"] is None  # no quiz_answers at all


def test_judges_may_stop_with_fail_and_their_details_reach_the_report():
    chapter = g.HiddenChapter(
        "ch97",
        {"ch97.x": "", "ch97.q": ""},
        {
            "ch97.x": lambda s, r: fail("specific hint"),
            "ch97.q": lambda s, r: Verdict(False, "1 of 2", score=0.5, details=("why",)),
        },
        {"ch97.x": 1.0, "ch97.q": 1.0},
        references={"ch97.x": {}, "ch97.q": {}},
    )
    run = g.RunResult(exports={"ch97.x": g.encode({"value": {}}), "ch97.q": g.encode({"value": {}})})
    verdict, internal = g.judge_exercise(chapter, "ch97.x", run.exports["ch97.x"], run, True, 10_000)
    assert (verdict.passed, verdict.message, internal) == (False, "specific hint", None)
    plan = g.Plan("ch97", present={"ch97.x", "ch97.q"})
    result = g.judge_submission(g.Submission("ann", Path("ann.ipynb")), chapter, plan, run, g.Limits())
    assert result.score == 0.5 and result.exercises[1].details == ["why"]
    assert "## What to review" in g.feedback_markdown(result) and "- why" in g.feedback_markdown(result)
    assert "<li>why</li>" in g.feedback_html(result)


def test_hidden_hints_name_the_mistake_without_a_number():
    from course_utils.grading.kit import mismatch

    expected = np.array([0.37, -1.25, 2.5])
    for got, kind in [
        (2.5 * expected, "constant factor"),
        (expected + 0.5, "constant offset"),
        (expected + [0, 0, 0.3], "differs from the expected values"),
    ]:
        hint = mismatch(got, expected, "f(x)")
        assert kind in hint and not any(ch.isdigit() for ch in hint), hint
    assert mismatch(expected, expected, "f(x)") is None


def test_numpy_only_exports_the_libraries_a_function_calls_and_the_judge_refuses_them():
    from course_utils.checking import CheckFailed
    from course_utils.grading.kit import numpy_only, refuse_frameworks

    pytest.importorskip("keras")
    source = numpy_only("_export = {'cases': [_call('f', 1.0)]}", "f")
    for body, used in [("return np.exp(x)", []), ("return keras.ops.exp(x)", ["keras", "tensorflow"])]:
        namespace: dict = {"np": __import__("numpy"), "keras": __import__("keras")}
        exec(f"def f(x):\n    {body}\n", namespace)
        exec(source, namespace)
        assert namespace["_export"]["frameworks"] == used and namespace["_export"]["watched"] == 1
    refuse_frameworks({"frameworks": []}, "f")
    with pytest.raises(CheckFailed, match="write it with NumPy"):
        refuse_frameworks({"frameworks": ["keras"]}, "f")
    for forged in ({}, {"frameworks": None}, {"frameworks": "[]"}):  # the watcher's list removed or replaced
        with pytest.raises(CheckFailed, match="could not confirm"):
            refuse_frameworks(forged, "f")


def test_a_chapter_is_one_record_per_exercise_and_the_loader_checks_them(tmp_path):
    from course_utils.grading.hidden import load_chapter
    from course_utils.grading.types import GraderError

    folder = tmp_path / "ch09"
    folder.mkdir()
    (folder / "solutions.py").write_text(
        "from course_utils.grading.kit import Answers\n"
        "DOUBLE = Answers('def f(x):\\n    return 2 * x\\n', [('id', 'f = abs')])\n"
    )
    record = 'HiddenCheck("{id}", 2, snippet("_export = _call(\'f\', 1)"), lambda s, r: None, _answers.DOUBLE)'
    checks = (
        "from course_utils.grading.kit import HiddenCheck, sibling, snippet\n"
        "_answers = sibling(__file__, 'solutions')\n"
        "CHECKS = [{records}]\n"
    )
    (folder / "checks.py").write_text(checks.format(records=record.format(id="ch09.double")))
    chapter = load_chapter(folder)
    assert chapter.ids == ["ch09.double"] and chapter.points == {"ch09.double": 2.0}
    assert chapter.solutions["ch09.double"].startswith("def f") and chapter.wrong["ch09.double"] == [("id", "f = abs")]
    twice = ", ".join([record.format(id="ch09.double")] * 2)
    (folder / "checks.py").write_text(checks.format(records=twice))
    with pytest.raises(GraderError, match="declared twice"):
        load_chapter(folder)
    (folder / "checks.py").write_text(checks.format(records=record.format(id="ch08.double")))
    with pytest.raises(GraderError, match="must start with 'ch09.'"):
        load_chapter(folder)
