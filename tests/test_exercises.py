"""The visible-check framework (course_utils.exercises) and the shared building blocks (course_utils.checking).

Each chapter's visible checks are proved against the reference solutions and the wrong answers of
the hidden tree in test_grader_chapters.py (which keeps correct answers out of this public folder).
"""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.exercises import (
    FAIL_MARK,
    PASS_MARK,
    CheckFailed,
    Question,
    Verdict,
    as_array,
    call,
    check,
    diagnose,
    expect_close,
    run_check,
    validate_answers,
)


def failure(fn, *args, **kwargs) -> str:
    """The message of the failure a building block raises."""
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    return info.value.verdict.message


# --- Verdict, run_check, check ------------------------------------------------------------------


def test_verdict_fraction_and_line():
    assert Verdict(True, "ok").fraction == 1.0 and Verdict(False, "no").fraction == 0.0
    assert Verdict(False, "half", score=0.5).fraction == 0.5 and Verdict(True, "x", score=3).fraction == 1.0
    assert Verdict(True, "fine").line("ch00.x") == f"{PASS_MARK} [ch00.x] fine"
    assert Verdict(False, "bad").line("ch00.x").startswith(FAIL_MARK)


def test_unknown_exercise_and_chapter():
    assert "no exercise called" in run_check("ch00.nope", 1).message
    assert "no exercise called" in run_check("ch77.nope", 1).message


def test_check_never_raises_and_prints_one_line(capsys):
    def exits(*args):
        raise SystemExit(1)

    check("ch00.early-stopping", exits)
    check("ch00.early-stopping", "not a function")
    check("ch00.top-k-accuracy")  # missing argument
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith(FAIL_MARK) for line in lines)
    assert "SystemExit" in lines[0] and "should be a function" in lines[1] and "TypeError" in lines[2]


# --- call and as_array --------------------------------------------------------------------------


def test_call_turns_stubs_and_crashes_into_hints():
    def stub(x):
        raise NotImplementedError

    def crash(x):
        raise ValueError("boom")

    assert "Not implemented yet" in failure(call, stub, 1)
    assert "crash raised ValueError: boom" in failure(call, crash, 1)
    assert "not defined yet" in failure(call, None, 1)
    assert "should be a function" in failure(call, 3, 1)
    assert call(lambda x: x + 1, 1) == 2


def test_as_array():
    assert "forget to `return`" in failure(as_array, None)
    assert "not numeric" in failure(as_array, [1, "a", None])
    assert as_array([1, 2]).tolist() == [1, 2]


# --- diagnose -----------------------------------------------------------------------------------

EXPECTED = np.arange(1.0, 7.0).reshape(2, 3)


@pytest.mark.parametrize(
    "got, hint",
    [
        (None, "forget to `return`"),
        (EXPECTED.T, "transposed"),
        (EXPECTED.ravel(), "reshape it"),
        (EXPECTED[:1], "expected (2, 3)"),
        (-EXPECTED, "opposite sign"),
        (2.5 * EXPECTED, "constant factor: it is about 2.5 times"),
        (EXPECTED + 0.5, "constant offset of about 0.5"),
        (np.where(EXPECTED > 3, np.nan, EXPECTED), "NaN values (3 of 6)"),
        (np.where(EXPECTED > 5, np.inf, EXPECTED), "infinite values"),
        (EXPECTED + np.array([[0, 0, 1], [0, 0, 0]]), "largest absolute difference 1"),
        (np.array([["a", "b", "c"], ["d", "e", "f"]]), "expected numbers"),
    ],
)
def test_diagnose_names_the_mistake(got, hint):
    message = diagnose(got, EXPECTED)
    assert message is not None and hint in message, message


def test_diagnose_accepts_close_values_lists_and_dtype_check():
    assert diagnose(EXPECTED.tolist(), EXPECTED) is None
    assert diagnose(EXPECTED + 1e-9, EXPECTED) is None
    assert "dtype" in diagnose(EXPECTED.astype("float32"), EXPECTED, check_dtype=True)
    assert "the thing" in diagnose([1.0], [2.0, 3.0], name="the thing")


def test_expect_close():
    assert expect_close([1.0, 2.0], [1.0, 2.0]).tolist() == [1.0, 2.0]
    assert "opposite sign" in failure(expect_close, [-1.0, -2.0], [1.0, 2.0])


# --- quizzes ------------------------------------------------------------------------------------

QUESTIONS = (Question("q1", ("A", "B")), Question("q2"))


def test_validate_answers_checks_only_the_form():
    assert validate_answers({"q1": "b", "q2": "3.5"}, QUESTIONS).passed
    assert "q1 is not answered yet" in validate_answers({"q1": None, "q2": 1}, QUESTIONS).message
    assert "q1 must be one of A, B" in validate_answers({"q1": "E", "q2": 1}, QUESTIONS).message
    assert "q2 must be a number" in validate_answers({"q1": "A", "q2": "many"}, QUESTIONS).message
    assert "finite" in validate_answers({"q1": "A", "q2": float("nan")}, QUESTIONS).message
    assert "unknown question keys ['q9']" in validate_answers({"q1": "A", "q2": 1, "q9": 1}, QUESTIONS).message
    assert "should be a dict" in validate_answers(["A", 1], QUESTIONS).message


def test_quiz_checks_validate_only_the_form():
    assert not run_check("ch00.quiz", {"q1": None, "q2": None, "q3": None, "q4": None}).passed
    assert run_check("ch00.quiz", {"q1": "a", "q2": "d", "q3": 1.5, "q4": 12}).passed
    assert "q2 must be one of" in run_check("ch01.quiz", {"q1": 1, "q2": 7, "q3": "A", "q4": 1, "q5": "B"}).message


def test_numpy_only_refuses_what_runs_not_what_the_code_spells():
    from course_utils.checking import CheckFailed, numpy_only

    pytest.importorskip("tensorflow")
    namespace: dict = {}
    exec(
        "import numpy as np\n"
        "def plain(x):\n    return np.exp(x).sum()\n"
        "def sneaky(x):\n    def inner(y):\n        return ops.exp(y)\n    return inner(x)\n"
        "ops = __import__('tensorflow').math\n",
        namespace,
    )
    assert numpy_only(namespace["plain"], "plain")(np.zeros(2)) == 2.0
    with pytest.raises(CheckFailed, match="runs tensorflow"):
        numpy_only(namespace["sneaky"], "sneaky")(np.zeros(2))
    assert numpy_only(None, "f") is None  # left for call() to report


def test_diagnose_does_not_call_two_single_numbers_off_by_a_constant_factor():
    """Any two numbers differ by some factor; saying so (issue 30: "about 1.6 times") misleads."""
    message = diagnose(1.3, 0.8, "the loss")
    assert message is not None and "constant factor" not in message and "differs" in message, message
    assert "constant factor" in diagnose(np.array([2.6, 1.3]), np.array([1.6, 0.8]))
