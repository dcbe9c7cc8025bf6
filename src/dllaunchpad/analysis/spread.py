"""Seed spread: is a difference between two settings larger than what a change of seed does?

Floating-point results move with the seed (and with the CPU); a conclusion drawn from one seed
("smoothing loses", "minimax covers fewer digits") is only as good as the spread of repeats. Here:

- :func:`summary` of one setting's values over seeds: n, mean, sample standard deviation (ddof 1),
  min, max, and the success rate when a success threshold is given;
- :func:`differs` says whether two settings' means differ by more than twice the standard error
  of their difference (Welch's, sqrt(sd_a^2/n_a + sd_b^2/n_b)), i.e. a two-sided z test at about
  95 %. With fewer than two seeds on either side the answer is None: one run cannot tell.
- :func:`differs_paired` is the same test for two values measured in the same runs (greedy and
  beam search on one trained transformer, five GANs trained side by side on one seed's batches):
  on the per-seed differences, their mean against twice its standard error sd_d / sqrt(n). A
  seed that is good for one is good for the other, so what a change of seed does to the
  *difference* is the spread that counts; the unpaired test would add the seeds' common swing
  to both sides and call a steady gap noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    sd: float | None          # None for a single value
    low: float
    high: float
    successes: int | None = None

    @property
    def success_rate(self) -> float | None:
        return None if self.successes is None else self.successes / self.n

    def as_dict(self) -> dict:
        return {"n": self.n, "mean": self.mean, "sd": self.sd, "min": self.low, "max": self.high,
                "successes": self.successes, "success_rate": self.success_rate}


def passes(value: float, success: dict | None) -> bool | None:
    """Whether one run succeeded: value >= at_least and/or value <= at_most (None: no criterion)."""
    if not success:
        return None
    ok = True
    if "at_least" in success:
        ok = ok and value >= success["at_least"]
    if "at_most" in success:
        ok = ok and value <= success["at_most"]
    return bool(ok)


def summary(values: list[float], success: dict | None = None) -> Summary:
    if not values:
        raise ValueError("summary of no values")
    n = len(values)
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    wins = sum(bool(passes(v, success)) for v in values) if success else None
    return Summary(n, mean, sd, min(values), max(values), wins)


def standard_error(a: Summary, b: Summary) -> float | None:
    if a.sd is None or b.sd is None:
        return None
    return math.sqrt(a.sd ** 2 / a.n + b.sd ** 2 / b.n)


def differs(a: Summary, b: Summary, z: float = 2.0) -> bool | None:
    """True when |mean_a - mean_b| > z standard errors of the difference; None when either side
    has a single seed. Two settings whose every seed gives the same value (sd 0) differ whenever
    their means do."""
    se = standard_error(a, b)
    if se is None:
        return None
    gap = abs(a.mean - b.mean)
    if se == 0:
        return gap > 0
    return gap > z * se


def paired_differences(a: list, b: list) -> Summary | None:
    """The summary of a_i - b_i over the runs where both have a value (None if there is none)."""
    d = [x - y for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    return summary(d) if d else None


def differs_paired(a: list, b: list, z: float = 2.0) -> bool | None:
    """True when the mean per-run difference a_i - b_i is more than z standard errors from 0;
    None with fewer than two runs that have both values. Differences that are all equal (sd 0)
    are real whenever they are not 0."""
    d = paired_differences(a, b)
    if d is None or d.sd is None:
        return None
    if d.sd == 0:
        return d.mean != 0
    return abs(d.mean) > z * d.sd / math.sqrt(d.n)


_VERDICTS = {None: "one seed: cannot tell", True: "larger than the seed spread",
             False: "within the seed spread"}


def verdict_paired(a: list, b: list) -> str:
    """A few words for a table cell, for two values from the same runs."""
    d = differs_paired(a, b)
    return _VERDICTS[d] + ("" if d is None else " (paired by seed)")


def verdict(a: Summary, b: Summary) -> str:
    """A few words for a table cell."""
    return _VERDICTS[differs(a, b)]
