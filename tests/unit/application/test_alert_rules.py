"""A rule's state machine: inactive -> pending -> firing (after the hold) -> resolved, told once each."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scheduler_application import AlertRule, RulePhase, RuleState
from scheduler_testing import FakeClock

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
NO_WORKERS = AlertRule(
    name="no-workers", metric="workers_online", comparison="below", threshold=1, for_seconds=60
)


class Rule:
    """One rule's state, moved by evaluations at the times of a fake clock."""

    def __init__(self, rule: AlertRule = NO_WORKERS) -> None:
        self.rule = rule
        self.clock = FakeClock(T0)
        self.state = RuleState()
        self.told: list[tuple[str, float, datetime]] = []

    def evaluate(self, value: float | None, *, after: float = 0) -> RuleState:
        self.clock.advance(after)
        self.state, change = self.state.observe(self.rule, value, self.clock.now())
        if change is not None:
            self.told.append((change.state, change.value, change.since))
        return self.state


def test_past_the_threshold_the_rule_is_pending_then_fires_once_held_for_its_time() -> None:
    rule = Rule()

    assert rule.evaluate(0).phase is RulePhase.PENDING
    assert rule.evaluate(0, after=59).phase is RulePhase.PENDING
    assert rule.told == []

    assert rule.evaluate(0, after=1).phase is RulePhase.FIRING
    assert rule.told == [("firing", 0, T0)]


def test_a_firing_rule_is_told_once_however_many_evaluations_find_it_still_past() -> None:
    rule = Rule()
    rule.evaluate(0)
    rule.evaluate(0, after=60)

    for _ in range(5):
        assert rule.evaluate(0, after=15).phase is RulePhase.FIRING

    assert [state for state, _, _ in rule.told] == ["firing"]


def test_back_within_bounds_a_firing_rule_resolves_once_with_the_time_it_began() -> None:
    rule = Rule()
    rule.evaluate(0)
    rule.evaluate(0, after=60)

    assert rule.evaluate(2, after=15).phase is RulePhase.INACTIVE
    assert rule.evaluate(3, after=15).phase is RulePhase.INACTIVE

    assert rule.told == [("firing", 0, T0), ("resolved", 2, T0)]


def test_a_metric_that_flaps_for_less_than_the_hold_never_fires() -> None:
    rule = Rule()
    for _ in range(10):
        rule.evaluate(0, after=15)
        rule.evaluate(0, after=40)  # past for 40 s of the 60 needed
        assert rule.evaluate(1, after=15).phase is RulePhase.INACTIVE

    assert rule.told == []


def test_the_hold_restarts_when_the_metric_comes_back() -> None:
    rule = Rule()
    rule.evaluate(0)
    rule.evaluate(1, after=50)
    rule.evaluate(0, after=10)

    assert rule.evaluate(0, after=59).phase is RulePhase.PENDING
    assert rule.evaluate(0, after=1).phase is RulePhase.FIRING
    assert rule.told == [("firing", 0, T0.replace(minute=1))]


def test_without_a_hold_the_first_evaluation_past_the_threshold_fires() -> None:
    rule = Rule(AlertRule(name="backlog", metric="runs_pending", comparison="above", threshold=100))

    rule.evaluate(100)
    assert rule.told == []
    rule.evaluate(101, after=1)

    assert rule.state.phase is RulePhase.FIRING
    assert rule.told == [("firing", 101, T0.replace(second=1))]


@pytest.mark.parametrize("phase_after", [1, 60])
def test_an_evaluation_without_a_value_changes_nothing(phase_after: float) -> None:
    rule = Rule()
    rule.evaluate(0)
    before = rule.evaluate(0, after=phase_after)

    assert rule.evaluate(None, after=100) == before
    assert rule.evaluate(None, after=100) == before


def test_the_threshold_is_strict() -> None:
    above = AlertRule(name="a", metric="runs_pending", comparison="above", threshold=5)
    below = AlertRule(name="b", metric="workers_online", comparison="below", threshold=1)

    assert (above.breached(5), above.breached(5.5)) == (False, True)
    assert (below.breached(1), below.breached(0)) == (False, True)
