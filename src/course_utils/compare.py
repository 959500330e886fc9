"""Comparing two training settings over random seeds: the difference, its interval, a verdict.

Every sentence of the book that compares two settings ("dropout lowers the validation loss",
"the runs cannot tell L1 from no penalty") comes from :func:`compare`, so that a chapter claims a
winner only where the runs support one. It replaced the rule the chapters used before ("every seed
of one beats every seed of the other"), retired: that rule names a winner by chance 10 % of the time
with 3 seeds against 3 (tested) and reports no size of the effect.

How the interval is made (the paragraph a chapter quotes):
    The difference between two settings is the mean of their per-seed differences when both ran
    with the same seeds (paired), else the difference of their means (unpaired), and its 95 %
    interval is a t interval: Student's for paired runs, Welch's for unpaired ones (Welch's does
    not assume that both settings vary equally from seed to seed). It assumes that the seeds give
    independent runs whose results (paired: whose differences) scatter roughly normally around
    their mean, the standard choice for 3 to 10 seeds, too few for a bootstrap to resample. A
    winner is named only when the interval excludes zero, so two settings that are in truth equal
    get a false verdict about 5 % of the time.

Several comparisons made at once multiply those chances (8 comparisons: about 34 % that at least
one names a false winner); :func:`family_wise` widens their intervals (Holm or Bonferroni) so that
the chance stays at most about 5 % for the whole family.

No SciPy: the Student t distribution is computed here from the regularized incomplete beta
function (:func:`t_cdf`, :func:`t_quantile`), tested against published table values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = [
    "A_BETTER",
    "B_BETTER",
    "CANNOT_TELL",
    "Comparison",
    "compare",
    "family_wise",
    "t_cdf",
    "t_quantile",
    "two_sided_p",
]

A_BETTER = "A better"
B_BETTER = "B better"
CANNOT_TELL = "cannot tell"

# One result per run: {seed: result} (pairs by seed) or a sequence in run order.
Runs = Mapping[Any, float] | Sequence[float] | np.ndarray


# --- the Student t distribution, from the regularized incomplete beta function ---------------


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), evaluated by the modified Lentz method.

    It converges quickly for x < (a + 1) / (a + b + 2); :func:`regularized_beta` uses the
    symmetry I_x(a, b) = 1 - I_{1-x}(b, a) to stay in that region.
    """
    tiny = 1e-300  # keeps a denominator from being exactly zero
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_001):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),  # even step
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),  # odd step
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            return h
    raise ArithmeticError(f"The incomplete beta function did not converge for a={a}, b={b}, x={x}.")  # pragma: no cover


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, for 0 <= x <= 1 and a, b > 0."""
    if not (a > 0 and b > 0):
        raise ValueError(f"a and b must be positive, got {a} and {b}.")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must lie in [0, 1], got {x}.")
    if x == 0.0 or x == 1.0:
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def _check_df(df: float) -> None:
    if not (df > 0 and math.isfinite(df)):
        raise ValueError(f"Degrees of freedom must be positive and finite, got {df}.")


def two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's T with df degrees of freedom (df need not be an integer)."""
    _check_df(df)
    return regularized_beta(df / (df + t * t), df / 2.0, 0.5)


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's T with df degrees of freedom (df need not be an integer)."""
    tail = 0.5 * two_sided_p(t, df)
    return 1.0 - tail if t > 0 else tail


def _t_pdf(t: float, df: float) -> float:
    log_density = (
        math.lgamma((df + 1.0) / 2.0)
        - math.lgamma(df / 2.0)
        - 0.5 * math.log(df * math.pi)
        - (df + 1.0) / 2.0 * math.log1p(t * t / df)
    )
    return math.exp(log_density)


@lru_cache(maxsize=4096)
def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p for Student's T with df degrees of freedom, e.g. t_quantile(0.975, 4) = 2.776.

    Solves for the upper tail, 1 - p, so that quantiles far out (p = 0.9999) keep their precision:
    Newton steps on the tail probability, kept inside a bracket that shrinks at every step.
    """
    _check_df(df)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie strictly between 0 and 1, got {p}.")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    target = 1.0 - p  # P(T > t) wanted
    if target == 0.5:
        return 0.0
    low, high = 0.0, 1.0
    while 0.5 * two_sided_p(high, df) > target:  # widen until the bracket holds the answer
        low, high = high, 2.0 * high
    t = 0.5 * (low + high)
    for _ in range(200):
        excess = 0.5 * two_sided_p(t, df) - target  # > 0: t is too small
        if excess > 0:
            low = t
        else:
            high = t
        step = excess / _t_pdf(t, df)
        new = t + step if low < t + step < high else 0.5 * (low + high)
        if abs(new - t) <= 1e-13 * max(1.0, t):
            return new
        t = new
    raise ArithmeticError(f"t_quantile({p}, {df}) did not converge.")  # pragma: no cover


# --- the comparison ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Setting A against setting B over seeds: the mean difference A - B, its interval, a verdict.

    Made by :func:`compare` (and :func:`family_wise`); ``str(comparison)`` is the sentence a
    chapter prints. The verdict is ``A_BETTER`` or ``B_BETTER`` only when the interval excludes
    zero, read with ``higher_is_better``; otherwise ``CANNOT_TELL``.
    """

    name_a: str  # e.g. "dropout"
    name_b: str  # e.g. "no dropout"
    quantity: str  # what was measured, as the sentence names it: "validation loss"
    higher_is_better: bool  # True for an accuracy, False for a loss
    difference: float  # mean of A - B (paired: mean of the per-seed differences)
    low: float  # the interval of the difference
    high: float
    confidence: float  # of this interval, after any correction for a family of comparisons
    n_a: int  # runs of A (paired: the number of seeds, as n_b)
    n_b: int
    paired: bool  # the runs were paired by seed
    se: float  # standard error of the difference
    df: float  # degrees of freedom of its t distribution (Welch's may be fractional)
    p_value: float  # two-sided, of "no difference"; before any family correction
    verdict: str  # A_BETTER, B_BETTER or CANNOT_TELL
    correction: str = "none"  # "none", "holm" or "bonferroni"
    family: int = 1  # how many comparisons were corrected together
    scale: float = 1.0  # printed numbers are multiplied by it: 100 prints accuracies as points
    unit: str = ""  # printed after the difference: " points"
    digits: int = 3  # decimals printed

    @property
    def winner(self) -> str | None:
        """The name of the better setting, or None when the runs cannot tell."""
        return {A_BETTER: self.name_a, B_BETTER: self.name_b}.get(self.verdict)

    def sentence(self, capital: bool = False) -> str:
        """The words a chapter prints, e.g. 'dropout lowers the validation loss by 0.031 compared
        with no dropout (95 % interval 0.012 to 0.050, 5 paired seeds)'. capital: start with a capital."""
        level = _percent(self.confidence)
        details = _seeds_text(self.paired, self.n_a, self.n_b)
        if self.correction != "none":
            details += f", {self.correction.capitalize()} correction for {self.family} comparisons"
        if self.verdict == CANNOT_TELL:
            text = (
                f"the runs cannot tell {self.name_a} from {self.name_b}: the difference in {self.quantity} "
                f"({self.name_a} minus {self.name_b}), {self._number(self.difference)}{self.unit}, has a "
                f"{level} % interval from {self._number(self.low)} to {self._number(self.high)} ({details})"
            )
        else:
            verb, sign = ("raises", 1.0) if self.difference > 0 else ("lowers", -1.0)
            low, high = sorted((sign * self.low, sign * self.high))
            text = (
                f"{self.name_a} {verb} the {self.quantity} by {self._number(abs(self.difference))}{self.unit} "
                f"compared with {self.name_b} ({level} % interval {self._number(low)} to {self._number(high)}, "
                f"{details})"
            )
        return text[0].upper() + text[1:] if capital else text

    def __str__(self) -> str:
        return self.sentence()

    def _number(self, value: float) -> str:
        text = f"{value * self.scale:.{self.digits}f}"
        if float(text) == 0.0:
            return text.lstrip("-")  # no "-0.000"
        return text.replace("-", "\N{MINUS SIGN}")


def _percent(confidence: float) -> str:
    """95 for 0.95, 98.3 for 1 - 0.05/3; more digits only where rounding would print 100."""
    for digits in range(3, 10):
        text = f"{100 * confidence:.{digits}g}"
        if float(text) < 100:
            return text
    return f"{100 * confidence}"  # pragma: no cover


def _seeds_text(paired: bool, n_a: int, n_b: int) -> str:
    if paired:
        return f"{n_a} paired seeds"
    if n_a == n_b:
        return f"{n_a} seeds each, unpaired"
    return f"{n_a} and {n_b} seeds, unpaired"


def _results(values: Any, name: str, labels: Sequence[Any]) -> np.ndarray:
    """The runs of one setting as a float array, refusing what no interval can be computed from."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"{name!r}: give one number per run (a 1-D sequence), got shape {v.shape}.")
    if v.size < 2:
        raise ValueError(
            f"{name!r} has {v.size} run(s): a comparison needs at least 2 per setting to measure how much "
            "results vary from seed to seed."
        )
    bad = [labels[i] for i in np.flatnonzero(~np.isfinite(v))]
    if bad:
        raise ValueError(f"{name!r} has a NaN or infinite result ({bad}): report a diverged run, do not average it.")
    return v


def _pair_up(a: Runs, b: Runs, names: tuple[str, str], paired: bool | None) -> tuple[np.ndarray, np.ndarray, bool]:
    """The two settings' results, aligned seed by seed when paired, and whether they are paired."""
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise TypeError("Give both settings as {seed: result} mappings, or both as sequences.")
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        seeds_a, seeds_b = set(a), set(b)
        shared = seeds_a & seeds_b
        if paired is None:
            if shared and seeds_a != seeds_b:
                raise ValueError(
                    f"{names[0]!r} and {names[1]!r} share the seeds {sorted(shared)} but not "
                    f"{sorted(seeds_a ^ seeds_b)}: run both with the same seeds to pair them, or pass paired=False."
                )
            paired = seeds_a == seeds_b
        if paired and seeds_a != seeds_b:
            raise ValueError(
                f"paired=True needs the same seeds on both sides; only {names[0]!r} has {sorted(seeds_a - seeds_b)} "
                f"and only {names[1]!r} has {sorted(seeds_b - seeds_a)}."
            )
        order_a = sorted(seeds_a) if paired else list(a)
        order_b = order_a if paired else list(b)
        return (
            _results([a[s] for s in order_a], names[0], [f"seed {s}" for s in order_a]),
            _results([b[s] for s in order_b], names[1], [f"seed {s}" for s in order_b]),
            bool(paired),
        )
    if paired is None:
        raise ValueError(
            "Say whether the runs are paired: paired=True when the i-th runs of both settings used the same "
            "seed, paired=False otherwise (or give {seed: result} mappings and the seeds decide)."
        )
    va = _results(a, names[0], [f"run {i}" for i in range(len(a))])
    vb = _results(b, names[1], [f"run {i}" for i in range(len(b))])
    if paired and va.size != vb.size:
        raise ValueError(
            f"A paired comparison needs one run of each setting per seed: {names[0]!r} has {va.size} runs, "
            f"{names[1]!r} has {vb.size}."
        )
    return va, vb, bool(paired)


def _estimate(va: np.ndarray, vb: np.ndarray, paired: bool) -> tuple[float, float, float]:
    """Mean difference A - B, its standard error and degrees of freedom (Student paired, Welch unpaired)."""
    if paired:
        d = va - vb
        return float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size)), float(d.size - 1)
    wa, wb = va.var(ddof=1) / va.size, vb.var(ddof=1) / vb.size  # squared standard errors of each mean
    se2 = wa + wb
    if se2 == 0.0:  # both settings gave the same result for every seed
        df = float(va.size + vb.size - 2)
    else:  # Welch-Satterthwaite
        df = se2**2 / (wa**2 / (va.size - 1) + wb**2 / (vb.size - 1))
    return float(va.mean() - vb.mean()), math.sqrt(se2), float(df)


def _interval(difference: float, se: float, df: float, confidence: float) -> tuple[float, float]:
    half = 0.0 if se == 0.0 else t_quantile(0.5 + confidence / 2.0, df) * se
    return difference - half, difference + half


def _verdict(low: float, high: float, higher_is_better: bool) -> str:
    """Which setting is better, decided only by an interval that excludes zero."""
    if low > 0:
        return A_BETTER if higher_is_better else B_BETTER
    if high < 0:
        return B_BETTER if higher_is_better else A_BETTER
    return CANNOT_TELL


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1 (0.95 for 95 %), got {confidence}.")


def compare(
    a: Runs,
    b: Runs,
    *,
    higher_is_better: bool,
    names: tuple[str, str] = ("A", "B"),
    quantity: str = "result",
    paired: bool | None = None,
    confidence: float = 0.95,
    scale: float = 1.0,
    unit: str = "",
    digits: int = 3,
) -> Comparison:
    """Compare setting A with setting B over seeds: mean difference A - B, t interval, verdict.

    a, b             -- one result per run: {seed: result} mappings (paired when both have the same
                        seeds, unpaired when they share none), or sequences with ``paired`` given
    higher_is_better -- True for an accuracy, False for a loss: it turns the interval into a verdict
    names, quantity  -- how the sentence names the settings and the measurement
    paired           -- None: decided by the seeds of mappings; True: the i-th runs share a seed
    confidence       -- of the interval (0.95)
    scale, unit, digits -- how the sentence prints numbers: 100, " points", 1 for accuracies

    The interval is Student's t on the per-seed differences when paired and Welch's t when not
    (see the module's docstring for the assumptions); pairing removes the part of the seed's luck
    that both settings share, so it gives narrower intervals whenever the seeds were shared.
    Welch's interval is an approximation: with very unequal numbers of runs, the fewer also the
    noisier (3 against 10), it names a false winner about 7 % of the time instead of 5 % (tested);
    give both settings the same seeds and the same number of runs.
    """
    _check_confidence(confidence)
    va, vb, paired = _pair_up(a, b, names, paired)
    difference, se, df = _estimate(va, vb, paired)
    low, high = _interval(difference, se, df, confidence)
    p_value = (0.0 if difference != 0.0 else 1.0) if se == 0.0 else two_sided_p(difference / se, df)
    return Comparison(
        name_a=names[0],
        name_b=names[1],
        quantity=quantity,
        higher_is_better=higher_is_better,
        difference=difference,
        low=low,
        high=high,
        confidence=confidence,
        n_a=int(va.size),
        n_b=int(vb.size),
        paired=paired,
        se=se,
        df=df,
        p_value=p_value,
        verdict=_verdict(low, high, higher_is_better),
        scale=scale,
        unit=unit,
        digits=digits,
    )


def _at_confidence(c: Comparison, confidence: float, method: str, family: int) -> Comparison:
    low, high = _interval(c.difference, c.se, c.df, confidence)
    verdict = _verdict(low, high, c.higher_is_better)
    return replace(c, low=low, high=high, confidence=confidence, verdict=verdict, correction=method, family=family)


def family_wise(comparisons: Sequence[Comparison], method: str = "holm") -> list[Comparison]:
    """The same comparisons, corrected so that all together name a false winner at most 5 % of the time.

    Bonferroni tests each of m comparisons at level 0.05/m: each interval is widened to
    1 - 0.05/m, and together they cover all true differences at least 95 % of the time. Holm is as
    safe for the verdicts and names more real winners: it tests the comparisons from the smallest
    p-value up, the k-th at level 0.05/(m - k + 1), and stops at the first it cannot decide; each
    comparison's interval is the one at the level it was tested at (those not reached: the level of
    the one that stopped), so a verdict is still exactly "the interval excludes zero". Holm's
    intervals share no joint coverage guarantee; Bonferroni's do. The level is taken from the
    comparisons' own confidence (0.95: family-wise 5 %). Returned in the order given.
    """
    if method not in ("holm", "bonferroni"):
        raise ValueError(f"method must be 'holm' or 'bonferroni', got {method!r}.")
    if not comparisons:
        raise ValueError("Give at least one comparison.")
    if any(c.correction != "none" for c in comparisons):
        raise ValueError("These comparisons are corrected already: correct the uncorrected ones, once, together.")
    levels = {c.confidence for c in comparisons}
    if len(levels) != 1:
        raise ValueError(f"The comparisons have different confidences {sorted(levels)}: make them at one level.")
    alpha, m = 1.0 - levels.pop(), len(comparisons)
    if method == "bonferroni":
        return [_at_confidence(c, 1.0 - alpha / m, method, m) for c in comparisons]
    corrected: dict[int, Comparison] = {}
    order = sorted(range(m), key=lambda i: comparisons[i].p_value)
    for k, i in enumerate(order):
        result = _at_confidence(comparisons[i], 1.0 - alpha / (m - k), method, m)
        corrected[i] = result
        if result.verdict == CANNOT_TELL:  # Holm stops: the rest are tested at this same level
            for j in order[k + 1 :]:
                corrected[j] = _at_confidence(comparisons[j], result.confidence, method, m)
            break
    return [corrected[i] for i in range(m)]
