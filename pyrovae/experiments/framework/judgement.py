"""Verdicts in words for the reproduction table: each claim "reproduced", "not reproduced",
"partly" or "undecided", with the scale of the run and the reason, from comparisons that take
the Monte Carlo error into account.

An experiment opts in by defining ``judge(results) -> str``; ``pyrovae reproduce --report``
then writes that sentence in the verdict column beside the ✓ / partly / ✗ of its checks.
"""

import math

HOLDS, FAILS, TIE = "holds", "fails", "within noise"


def compare(mine, base, stderr=0.0, better="lower", ties_hold=False) -> str:
    """Whether ``mine`` is better than ``base`` (``better`` "lower" or "higher"): "holds" /
    "fails" when the difference exceeds 2 ``stderr`` (the standard error of the difference;
    0: any difference decides), else "within noise" ("holds" with ``ties_hold``, for claims
    such as "at least as good")."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    gain = (base - mine) if better == "lower" else (mine - base)
    margin = 2.0 * stderr
    if gain > margin or (ties_hold and gain >= -margin):
        return HOLDS
    return FAILS if gain < -margin else TIE


def difference_stderr(*stderrs) -> float:
    """The standard error of a difference of independent estimates (``None`` counts as 0)."""
    return math.hypot(*(s or 0.0 for s in stderrs))


def claim_words(outcomes) -> str:
    """One claim judged over several cases (``{case: outcome}``, e.g. per InfoVAE divergence):
    "reproduced" when every case holds, "not reproduced" when every case fails, "undecided
    (within noise)" when none fails and not all hold, else "partly" naming the cases."""
    values = list(outcomes.values())
    if values and all(v == HOLDS for v in values):
        return "reproduced"
    if values and all(v == FAILS for v in values):
        return "not reproduced"
    if FAILS not in values:
        return (
            "undecided (within noise for "
            + ", ".join(k for k, v in outcomes.items() if v == TIE)
            + ")"
        )
    parts = []
    for outcome in (HOLDS, FAILS, TIE):
        cases = [k for k, v in outcomes.items() if v == outcome]
        if cases:
            parts.append(f"{outcome} for {', '.join(cases)}")
    return "partly: " + "; ".join(parts)
