"""An exception's message cannot carry the hidden inputs into feedback.

A student's function sees its exercise's hidden inputs while it runs; before this proof, it could
raise an exception whose message (or class name) held them, and feedback quoted that message: the
inputs came back to the student. Feedback now shows the exception's type (Python's or NumPy's
only) and a message without numbers, arrays or long tokens, cut short, however the judge quotes it.
"""

from __future__ import annotations

import re

import numpy as np
from test_grader import CHAPTER, make_tree

from course_utils import grade as g
from course_utils.checking import Verdict, fail
from course_utils.grading.codec import encode
from course_utils.grading.wording import MAX_ERROR, quote_safely, safe_error

# The hidden input of ch98.double (see test_grader's CHECKS): what a leak would show.
HIDDEN = np.random.default_rng(5).normal(size=7)

LEAKERS = {
    "repr in the message": "def double(x):\n    raise ValueError(repr(x))",
    "numbers in words": "def double(x):\n    raise RuntimeError(' '.join(f'{v:.6f}' for v in x))",
    "a class named by the input": (
        "def double(x):\n    raise type('E' + str(x[0]).replace('.', '_').replace('-', 'm'), (Exception,), {})('x')"
    ),
    "an encoded input": (
        "import base64\ndef double(x):\n    raise KeyError(base64.b64encode(np.asarray(x).tobytes()).decode())"
    ),
    "an object whose type is named by the input": (
        "def double(x):\n    return type('T' + str(x[0]).replace('.', '_'), (), {})()"
    ),
}


def leaked(text: str) -> list[str]:
    """The hidden values (4 significant digits, or their bytes encoded) that a text gives away."""
    import base64

    found = [f"{abs(v):.4f}"[:6] for v in HIDDEN if f"{abs(v):.4f}"[:6] in text.replace("_", ".")]
    encoded = base64.b64encode(HIDDEN.tobytes()).decode()
    return found + ([encoded[:12]] if encoded[:12] in text else [])


def chapter(tmp_path):
    hidden = g.load_chapter(make_tree(tmp_path / "instructor") / CHAPTER)
    g.ensure_references(hidden)
    return hidden


def verdict_of(hidden, source: str) -> Verdict:
    """The verdict the student reads: the snippet run here, the export judged as the grader judges it."""
    exported = g.run_export_in_process(hidden, f"{CHAPTER}.double", source)
    verdict, _ = g.judge_exercise(hidden, f"{CHAPTER}.double", encode({"value": exported}), g.RunResult(), True, 10**6)
    return verdict


def test_the_leakers_gave_away_the_hidden_input_without_the_cleaning():
    assert leaked(repr(HIDDEN)) and leaked(base64_of(HIDDEN))  # the proof can see a leak


def base64_of(x):
    import base64

    return base64.b64encode(x.tobytes()).decode()


def test_no_exception_carries_a_hidden_input_into_feedback(tmp_path):
    hidden = chapter(tmp_path)
    for family, source in LEAKERS.items():
        verdict = verdict_of(hidden, source)
        assert not verdict.passed, family
        assert not leaked(verdict.message), (family, verdict.message)
        assert not re.search(r"\d\d", verdict.message.replace("ch98", "")), (family, verdict.message)


def test_the_type_and_the_gist_of_an_honest_error_remain(tmp_path):
    hidden = chapter(tmp_path)
    verdict = verdict_of(hidden, "def double(x):\n    return np.ones((3, 2)) + x")
    assert "ValueError" in verdict.message and "broadcast" in verdict.message, verdict.message
    assert "NotImplementedError" in verdict_of(hidden, "def double(x):\n    raise NotImplementedError").message
    missing = verdict_of(hidden, "def triple(x):\n    return 3 * x").message
    assert "double is not defined" in missing, missing


def test_a_forged_error_export_is_cleaned_too(tmp_path):
    hidden = chapter(tmp_path)
    raw = encode({"error": "ValueError: " + repr(HIDDEN.tolist())})  # the export channel itself, forged
    verdict, _ = g.judge_exercise(hidden, f"{CHAPTER}.double", raw, g.RunResult(), True, 10**6)
    assert not verdict.passed and not leaked(verdict.message), verdict.message


def test_a_judge_that_quotes_a_recorded_error_is_cleaned(tmp_path):
    """Chapter judges quote errors their snippets recorded (``train_error``): cleaned in one place."""
    hidden = chapter(tmp_path)

    def quoting(student, reference):
        fail(f"Training a model with your loss failed: {student['train_error']}")

    hidden.judges[f"{CHAPTER}.double"] = quoting
    raw = encode({"value": {"train_error": "RuntimeError: " + " ".join(map(str, HIDDEN))}})
    verdict, _ = g.judge_exercise(hidden, f"{CHAPTER}.double", raw, g.RunResult(), True, 10**6)
    assert verdict.message.startswith("Training a model with your loss failed: RuntimeError"), verdict.message
    assert not leaked(verdict.message), verdict.message


def test_safe_error_keeps_known_types_and_drops_numbers_arrays_and_long_tokens():
    assert safe_error("ValueError: shapes (5,3) and (4,) differ") == "ValueError: shapes (#) and (#,) differ"
    assert safe_error("RuntimeError: [[1.5 2.5]\n [3.5 4.5]]") == "RuntimeError: [...]"
    assert safe_error("Leak_0_123: x").startswith("an exception of its own class")
    assert safe_error("numpy.linalg.LinAlgError: Singular matrix") == "LinAlgError: Singular matrix"
    assert "AAAA" not in safe_error("KeyError: " + "A" * 40)
    assert len(safe_error("ValueError: " + "word " * 100)) <= len("ValueError: ") + MAX_ERROR
    assert quote_safely("failed: TypeError: 12.5 is bad", {"e": "TypeError: 12.5 is bad"}) == (
        "failed: TypeError: # is bad"
    )
