"""Policy back-testing (issue 14 item 6): ``Ledger.backtest`` and ``arledger backtest``.

The actual rows are held to the replayed folds (``escalation.evaluate`` of every customer on a
period end, a Ledger with ``read_models="replay"``), the candidate's to the same folds with the
candidate as the only policy; a candidate equal to the policy in force gives the same rows and
no difference; a stricter one escalates at least the same customers, at least as early.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import attrs
import pytest
from typer.testing import CliRunner

from arledger import (
    Backtest,
    BacktestPolicy,
    BacktestStep,
    EscalationPolicy,
    InvalidCommandError,
    Ledger,
)
from arledger.adapters.cli.app import app
from arledger.adapters.persistence.serialization import make_converter
from arledger.adapters.synthetic import generate
from arledger.domain.errors import InvalidDateError
from arledger.domain.events import InvoiceIssued, InvoiceWrittenOff
from arledger.domain.policy import DEFAULT_ESCALATION_POLICY, TriggerRule
from arledger.domain.policy_book import PolicyVersion
from arledger.projections import escalation
from arledger.projections.backtest import period_ends

INVOICES = 600
SEEDS = (5, 11, 23)
FROM, TO = "2024-01", "2024-12"


def _stricter(policy: EscalationPolicy, version: int) -> EscalationPolicy:
    """``policy`` with every days-past-due threshold halved (1 stays 1)."""
    levels = tuple(
        attrs.evolve(
            level,
            triggers=tuple(
                attrs.evolve(trigger, threshold=max(1, trigger.threshold // 2))
                if trigger.rule is TriggerRule.DAYS_PAST_DUE
                else trigger
                for trigger in level.triggers
            ),
        )
        for level in policy.levels
    )
    return attrs.evolve(policy, version=version, levels=levels)


STRICTER = _stricter(DEFAULT_ESCALATION_POLICY, 2)


def _env(folder: Path) -> dict[str, str]:
    return {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(folder / "ledger.db")}


@pytest.fixture(scope="module", params=SEEDS)
def generated(request: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    env = _env(tmp_path_factory.mktemp(f"backtest-{request.param}"))
    ledger = Ledger(env=env)
    generate.generate_to_store(ledger, INVOICES, request.param)
    yield ledger
    ledger.close()


def _levels_by_fold(
    ledger: Ledger, on: date, policy: EscalationPolicy | None = None
) -> dict[str, tuple[int, int]]:
    """(level, broken promises) of every customer opened by ``on``, replayed, under the
    ledger's policies or ``policy`` alone."""
    state = ledger.portfolio()
    if policy is not None:
        # The fold's book takes a version above the default's; the number changes no figure.
        alone = attrs.evolve(policy, version=DEFAULT_ESCALATION_POLICY.version + 1)
        state = attrs.evolve(
            state, policy_versions=[PolicyVersion(effective_on=date(1900, 1, 1), policy=alone)]
        )
    found = {}
    for customer_id, customer in state.customers.items():
        if customer.opened_on <= on:
            evaluation = escalation.evaluate(state, customer_id, on)
            found[customer.customer_code] = (evaluation.level, evaluation.broken_promises)
    return found


def _standing(result: Backtest, kind: BacktestPolicy) -> dict[date, dict[str, int]]:
    """Levels of the escalated customers per period end."""
    return {
        period.period_end: {
            customer.customer_code: customer.level
            for customer in (
                period.actual if kind is BacktestPolicy.ACTUAL else period.candidate
            ).escalated
        }
        for period in result.periods
    }


def test_a_candidate_equal_to_the_policy_in_force_gives_identical_rows(generated: Ledger) -> None:
    result = generated.backtest(DEFAULT_ESCALATION_POLICY, FROM, TO)

    assert 12 == len(result.periods)
    for period in result.periods:
        assert attrs.evolve(period.candidate, policy=BacktestPolicy.ACTUAL) == period.actual
    assert () == result.differences
    # Not vacuous: the year's ledger escalates someone and collects from them afterwards.
    assert any(period.actual.escalated for period in result.periods)
    assert any(period.actual.collected_after for period in result.periods)


def test_an_adopted_policy_replayed_as_the_candidate_gives_identical_rows(tmp_path: Path) -> None:
    ledger = Ledger(env=_env(tmp_path))
    try:
        ledger.adopt_policy(
            policy=STRICTER, effective_on=date(2020, 1, 1), approver="cfo", reason="stricter"
        )
        generate.generate_to_store(ledger, INVOICES, 7)

        result = ledger.backtest(STRICTER, "2024-06", "2024-09", step=BacktestStep.WEEK)
    finally:
        ledger.close()

    assert [period.period_end for period in result.periods] == list(
        period_ends("2024-06", "2024-09", BacktestStep.WEEK)
    )
    assert {period.actual.policy_version for period in result.periods} == {2}
    for period in result.periods:
        assert attrs.evolve(period.candidate, policy=BacktestPolicy.ACTUAL) == period.actual
    assert () == result.differences


def test_a_stricter_candidate_escalates_the_same_customers_at_least_as_early(
    generated: Ledger,
) -> None:
    result = generated.backtest(STRICTER, FROM, TO, min_level=2)

    differences = {(d.period_end, d.customer_code): d for d in result.differences}
    assert differences, "halving the day thresholds changes some customer's level"
    for difference in result.differences:
        assert difference.candidate_level > difference.actual_level
    actual, candidate = (
        _standing(result, BacktestPolicy.ACTUAL),
        _standing(result, BacktestPolicy.CANDIDATE),
    )
    first_actual: dict[str, date] = {}
    first_candidate: dict[str, date] = {}
    for period in result.periods:
        end = period.period_end
        assert set(actual[end]) <= set(candidate[end])
        for code, level in actual[end].items():
            assert candidate[end][code] >= level
            if candidate[end][code] != level:
                assert (end, code) in differences
            first_actual.setdefault(code, end)
        for code in candidate[end]:
            first_candidate.setdefault(code, end)
        for code, level in candidate[end].items():
            if code not in actual[end]:
                assert differences[end, code].candidate_level == level
        assert period.candidate.on_supply_hold >= period.actual.on_supply_hold
        assert period.candidate.at_legal_level >= period.actual.at_legal_level
        assert len(period.candidate.escalated) >= len(period.actual.escalated)
    for code, end in first_actual.items():
        assert first_candidate[code] <= end
    assert any(first_candidate[code] < end for code, end in first_actual.items()) or set(
        first_candidate
    ) > set(first_actual)


def test_the_rows_equal_the_replayed_folds_on_a_period_end(generated: Ledger) -> None:
    end = date(2024, 9, 30)
    result = generated.backtest(STRICTER, "2024-09", "2024-09")
    replay = Ledger(env=dict(generated.env), read_models="replay")
    try:
        by_policy = {
            BacktestPolicy.ACTUAL: _levels_by_fold(replay, end),
            BacktestPolicy.CANDIDATE: _levels_by_fold(replay, end, STRICTER),
        }
        worklist = replay.worklist(end)
    finally:
        replay.close()

    (period,) = result.periods
    for kind, row in (
        (BacktestPolicy.ACTUAL, period.actual),
        (BacktestPolicy.CANDIDATE, period.candidate),
    ):
        folded = by_policy[kind]
        levels = [level for level, _ in folded.values()]
        assert row.customers_by_level == tuple(levels.count(n) for n in range(5)), kind
        assert row.promises_broken == sum(broken for _, broken in folded.values()), kind
        assert row.on_supply_hold == sum(level >= 3 for level in levels), kind
        assert row.at_legal_level == levels.count(4), kind
        assert {c.customer_code: c.level for c in row.escalated} == {
            code: level for code, (level, _) in folded.items() if level >= 3
        }, kind
    # The ledger's own worklist on that day: the same customers at level 1 or above.
    assert {item.customer_code: item.level for item in worklist if item.level > 0} == {
        code: level for code, (level, _) in by_policy[BacktestPolicy.ACTUAL].items() if level
    }
    assert {(d.customer_code, d.actual_level, d.candidate_level) for d in result.differences} == {
        (code, level, by_policy[BacktestPolicy.CANDIDATE][code][0])
        for code, (level, _) in by_policy[BacktestPolicy.ACTUAL].items()
        if level != by_policy[BacktestPolicy.CANDIDATE][code][0]
    }


def test_collected_after_is_what_the_escalated_paid_after_the_period_end(
    generated: Ledger,
) -> None:
    result = generated.backtest(DEFAULT_ESCALATION_POLICY, "2024-06", "2024-06", min_level=1)
    (period,) = result.periods
    state = generated.portfolio()
    codes = {customer.customer_code: cid for cid, customer in state.customers.items()}

    for customer in period.actual.escalated:
        paid: dict[str, int] = {}
        for payment in state.payments.values():
            if (
                payment.customer_id == codes[customer.customer_code]
                and payment.value_on > period.period_end
                and payment.reversed_on is None
            ):
                paid[payment.currency] = paid.get(payment.currency, 0) + payment.amount_minor
        assert {m.currency: m.amount_minor for m in customer.collected_after} == paid
    customer_of_invoice = {
        event.originator_id: event.customer_id
        for event in generated.iter_events()
        if isinstance(event, InvoiceIssued)
    }
    written_off_later = {
        state.customers[customer_of_invoice[event.originator_id]].customer_code
        for event in generated.iter_events()
        if isinstance(event, InvoiceWrittenOff) and event.written_off_on > period.period_end
    }
    flagged = {c.customer_code for c in period.actual.escalated if c.written_off_after}
    assert flagged == written_off_later & {c.customer_code for c in period.actual.escalated}
    assert period.actual.written_off_caught == len(flagged)
    assert flagged, "the generated year writes off some customer escalated by June"


def test_a_backtest_records_nothing_and_refuses_bad_arguments(generated: Ledger) -> None:
    before = generated.recorder.max_notification_id()

    generated.backtest(STRICTER, FROM, "2024-02")
    with pytest.raises(InvalidDateError) as bad_month:
        generated.backtest(STRICTER, "2024-1", TO)
    with pytest.raises(InvalidDateError):
        generated.backtest(STRICTER, TO, FROM)
    with pytest.raises(InvalidCommandError) as bad_level:
        generated.backtest(STRICTER, FROM, TO, min_level=0)
    with pytest.raises(InvalidCommandError):
        generated.backtest("strict", FROM, TO)  # type: ignore[arg-type]

    assert bad_month.value.field == "from_month"
    assert bad_level.value.field == "min_level"
    assert before == generated.recorder.max_notification_id()


def test_period_ends_are_month_ends_or_sundays() -> None:
    assert period_ends("2024-01", "2024-03", BacktestStep.MONTH) == (
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
    )
    weeks = period_ends("2024-02", "2024-02", BacktestStep.WEEK)
    assert weeks == (date(2024, 2, 4), date(2024, 2, 11), date(2024, 2, 18), date(2024, 2, 25))
    assert {day.weekday() for day in weeks} == {6}


def _policy_file(folder: Path, policy: EscalationPolicy) -> Path:
    path = folder / "candidate.json"
    path.write_text(json.dumps(make_converter().unstructure(policy, EscalationPolicy)))
    return path


def test_the_cli_prints_the_backtest_as_json_and_csv(generated: Ledger, tmp_path: Path) -> None:
    path = _policy_file(tmp_path, STRICTER)
    env = dict(generated.env)
    common = ["backtest", "--policy", str(path), "--from", "2024-05", "--to", "2024-07"]

    as_json = CliRunner().invoke(app, [*common, "--format", "json"], env=env)
    as_csv = CliRunner().invoke(app, [*common, "--format", "csv"], env=env)
    as_table = CliRunner().invoke(app, common, env=env)

    assert 0 == as_json.exit_code, as_json.output
    data = json.loads(as_json.stdout)
    expected = generated.backtest(STRICTER, "2024-05", "2024-07")
    assert [p["period_end"] for p in data["periods"]] == ["2024-05-31", "2024-06-30", "2024-07-31"]
    assert [
        (d["period_end"], d["customer_code"], d["actual_level"], d["candidate_level"])
        for d in data["differences"]
    ] == [
        (d.period_end.isoformat(), d.customer_code, d.actual_level, d.candidate_level)
        for d in expected.differences
    ]
    assert data["periods"][2]["candidate"]["customers_by_level"] == list(
        expected.periods[2].candidate.customers_by_level
    )
    assert 0 == as_csv.exit_code, as_csv.output
    lines = as_csv.stdout.splitlines()
    assert lines[0].startswith("kind,period_end,policy,")
    assert len(lines) == 1 + 6 + len(expected.differences)
    assert 0 == as_table.exit_code, as_table.output
    assert "customer level(s) differ" in as_table.stdout


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("not json", "is not JSON"),
        ("[1, 2]", "not a policy object"),
        ('{"levels": 3}', "is not an escalation policy"),
        ('{"levels": [{"level": 1, "name": "x"}]}', "levels must be numbered"),
    ],
)
def test_a_malformed_policy_file_is_refused_with_nothing_recorded(
    generated: Ledger, tmp_path: Path, content: str, said: str
) -> None:
    path = tmp_path / "candidate.json"
    path.write_text(content)
    before = generated.recorder.max_notification_id()

    result = CliRunner().invoke(
        app,
        ["backtest", "--policy", str(path), "--from", FROM, "--to", TO],
        env=dict(generated.env),
    )

    assert 2 == result.exit_code, result.output
    assert said in result.stderr
    assert "Traceback" not in result.output
    assert before == generated.recorder.max_notification_id()
