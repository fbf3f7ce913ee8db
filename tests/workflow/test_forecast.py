"""The late-risk forecast (workflow.forecast): calibrated on held-out history, and its fallbacks."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from motcua.workflow.forecast import (
    MIN_HISTORY,
    Forecaster,
    StepDurations,
    choose_durations,
    risks,
)

# A five-step workflow (reception, department, specialist, leader, return to the desk) whose
# step times, in working hours, follow known log-normal distributions: (median, spread).
STEPS = [(2.0, 0.5), (6.0, 0.6), (14.0, 0.7), (4.0, 0.8), (2.0, 0.4)]
LEGAL_HOURS = 40.0  # five working days


def _drawer(rng: random.Random) -> Callable[[], list[float]]:
    def draw() -> list[float]:
        return [rng.lognormvariate(math.log(median), spread) for median, spread in STEPS]

    return draw


def test_predicted_risks_match_observed_lateness_on_held_out_dossiers() -> None:
    """Dossiers predicted at about 80 % risk are late in about 80 % of cases (and so on for
    every band with enough dossiers), on data drawn from the known step distributions."""
    rng = random.Random(20261201)
    draw = _drawer(rng)
    history = [draw() for _ in range(3000)]
    forecaster = Forecaster([StepDurations.from_history([h[i] for h in history]) for i in range(len(STEPS))])

    predicted: list[float] = []
    late: list[bool] = []
    while len(predicted) < 12000:
        durations = draw()
        total = sum(durations)
        # A snapshot at a moment chosen independently of the dossier (before the deadline),
        # as the daily scan sees it: only dossiers still in progress then are forecast.
        seen_at = rng.uniform(0, LEGAL_HOURS)
        if total <= seen_at:
            continue
        position, before = 0, 0.0
        while before + durations[position] <= seen_at:
            before += durations[position]
            position += 1
        predicted.append(forecaster.risk(position, seen_at - before, LEGAL_HOURS - seen_at))
        late.append(total > LEGAL_HOURS)

    bands: dict[int, list[int]] = {}
    for i, p in enumerate(predicted):
        bands.setdefault(min(int(p * 10), 9), []).append(i)
    checked = 0
    for band, members in sorted(bands.items()):
        if len(members) < 300:
            continue
        mean_predicted = sum(predicted[i] for i in members) / len(members)
        observed = sum(late[i] for i in members) / len(members)
        assert abs(observed - mean_predicted) < 0.07, (band, len(members), mean_predicted, observed)
        checked += 1
    assert checked >= 4  # the forecast spreads over the range rather than saying one number
    eighty = [i for i, p in enumerate(predicted) if 0.7 <= p < 0.9]
    assert len(eighty) >= 200
    observed_80 = sum(late[i] for i in eighty) / len(eighty)
    assert 0.72 <= observed_80 <= 0.88
    # And it beats knowing only the base rate (Brier score).
    base = sum(late) / len(late)
    brier = sum((p - y) ** 2 for p, y in zip(predicted, late, strict=True)) / len(late)
    brier_base = sum((base - y) ** 2 for y in late) / len(late)
    assert brier < 0.8 * brier_base


def test_the_risk_rises_as_time_runs_out_and_is_certain_past_the_deadline() -> None:
    rng = random.Random(7)
    draw = _drawer(rng)
    history = [draw() for _ in range(400)]
    forecaster = Forecaster([StepDurations.from_history([h[i] for h in history]) for i in range(len(STEPS))])
    by_remaining = [forecaster.risk(2, 3.0, remaining) for remaining in (60, 40, 30, 20, 10, 1)]
    assert by_remaining == sorted(by_remaining)
    assert by_remaining[0] < 0.05 and by_remaining[-1] > 0.95
    assert forecaster.risk(2, 3.0, 0) == 1.0 and forecaster.risk(0, 0.0, -5) == 1.0
    # At the last step with nothing after it, only that step's own time counts.
    assert forecaster.risk(4, 0.0, 100.0) == 0.0
    # Longer than every recorded case in its step: what is left is taken as the median again,
    # so it is at risk rather than "done any minute" (when only the later steps would count).
    assert forecaster.risk(2, 500.0, 20.0) > 0.3 > 0.05 > forecaster.risk(3, 0.0, 20.0)


def test_thin_history_falls_back_to_the_procedure_then_to_the_budget() -> None:
    unit = [5.0] * (MIN_HISTORY - 1)
    procedure = [10.0] * MIN_HISTORY
    assert choose_durations([*unit, 5.0], procedure, 8.0).durations == (5.0,) * MIN_HISTORY
    assert choose_durations(unit, procedure, 8.0).durations == (10.0,) * MIN_HISTORY
    budget = choose_durations(unit, [], 8.0).durations
    assert min(budget) == 4.0 and max(budget) == 12.0 and len(budget) == 21
    # With only budgets, a dossier with plenty of time is safe and one with too little is not.
    forecaster = Forecaster([StepDurations.from_budget(8.0), StepDurations.from_budget(16.0)])
    assert forecaster.risk(0, 0.0, 40.0) == 0.0
    assert forecaster.risk(0, 0.0, 6.0) == 1.0
    assert 0.3 < forecaster.risk(0, 0.0, 24.0) < 0.7


def test_many_dossiers_at_once_pick_their_own_scope() -> None:
    fast = Forecaster([StepDurations.from_history([1.0] * 40), StepDurations.from_history([1.0] * 40)])
    slow = Forecaster([StepDurations.from_history([30.0] * 40), StepDurations.from_history([30.0] * 40)])
    scores = risks({"fast": fast, "slow": slow}, [("fast", 0, 0.0, 10.0), ("slow", 0, 0.0, 10.0)])
    assert scores == [0.0, 1.0]
    with pytest.raises(KeyError):
        risks({"fast": fast}, [("unknown", 0, 0.0, 1.0)])
