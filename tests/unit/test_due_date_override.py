"""Manual due-date overrides (issue 13.1), scenarios from the collection handbooks: a due date is
moved only on a named approver's authority and for a reason, a role may postpone by at most the
days the authority policy gives it, a postponement may be requested and approved later, and
from the override's date the invoice ages, escalates and is reminded from the new due date
(the query engine and a replay alike); an auditor finds every override among the reductions."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arledger import (
    ApproverRequiredError,
    ApproverRole,
    AuthorityLimitError,
    AuthorityPolicy,
    Ledger,
    Money,
    ReductionKind,
    RoleAuthority,
)
from arledger.adapters.cli.app import app
from arledger.domain.errors import (
    ConfigurationError,
    InvalidCommandError,
    InvalidDateError,
    InvoiceStateError,
)
from arledger.domain.events import Instalment, InvoiceDueDateOverridden, ReductionApproved
from tests.conftest import FixedClock


def cny(text: str) -> Money:
    return Money.parse(text, "CNY")


POLICY = AuthorityPolicy(
    version=1,
    approvers=(
        ApproverRole(approver="Wang", role="sales manager"),
        ApproverRole(approver="Zhao", role="finance director"),
    ),
    roles=(
        RoleAuthority(
            role="sales manager",
            currency="CNY",
            reduction_max_minor=cny("50000.00").amount_minor,
            customer_period_max_minor=cny("80000.00").amount_minor,
            postponement_days_max=30,
        ),
        RoleAuthority(
            role="finance director",
            currency="CNY",
            reduction_max_minor=cny("500000.00").amount_minor,
            customer_period_max_minor=cny("1000000.00").amount_minor,
        ),
    ),
)


def opened(ledger: Ledger) -> Ledger:
    """HUADA owes 100,000.00 CNY on INV-1, issued 2024-01-01 and due 2024-01-31, under
    ``POLICY`` from 2024-01-01."""
    ledger.open_account(
        "HUADA",
        name="Huada Trading",
        currency="CNY",
        collection_owner="Liu",
        opened_on=date(2024, 1, 1),
    )
    ledger.issue_invoice(
        "INV-1",
        customer_code="HUADA",
        amount=cny("100000.00"),
        issued_on=date(2024, 1, 1),
        due_on=date(2024, 1, 31),
    )
    ledger.adopt_authority_policy(
        policy=POLICY, effective_on=date(2024, 1, 1), approver="Board", reason="delegation"
    )
    return ledger


@pytest.fixture
def ledger() -> Ledger:
    return opened(Ledger({"ARLEDGER_STORE": "memory"}, clock=FixedClock()))


def _events(ledger: Ledger) -> int:
    return len(list(ledger.iter_events()))


def test_a_due_date_moved_without_an_approver_is_refused_and_nothing_is_recorded(
    ledger: Ledger,
) -> None:
    before = _events(ledger)
    with pytest.raises(ApproverRequiredError) as refused:
        ledger.override_due_date(
            "INV-1",
            due_on=date(2024, 2, 15),
            overridden_on=date(2024, 2, 1),
            reason="customer asked",
            approver="",
        )
    assert "approver" == refused.value.field
    assert before == _events(ledger)
    assert date(2024, 1, 31) == ledger.invoice("INV-1").current_due_on


def test_a_postponement_beyond_the_roles_days_is_refused_naming_the_role_and_the_limit(
    ledger: Ledger,
) -> None:
    before = _events(ledger)
    with pytest.raises(AuthorityLimitError) as refused:
        ledger.override_due_date(
            "INV-1",
            due_on=date(2024, 3, 31),
            overridden_on=date(2024, 2, 1),
            reason="customer asked",
            approver="Wang",
        )
    assert "sales manager" == refused.value.role
    assert "postponement days" == refused.value.limit
    assert 30 == refused.value.limit_days
    assert 60 == refused.value.postponement_days
    assert "sales manager" in str(refused.value)
    assert "30 days" in str(refused.value)
    assert before == _events(ledger)


def test_a_postponement_within_the_roles_days_is_recorded_with_approver_and_reason(
    ledger: Ledger,
) -> None:
    events = ledger.override_due_date(
        "INV-1",
        due_on=date(2024, 3, 1),
        overridden_on=date(2024, 2, 1),
        reason="budget released in March",
        approver="Wang",
    )
    assert [
        (date(2024, 3, 1), date(2024, 1, 31), date(2024, 2, 1), "Wang", "budget released in March")
    ] == [
        (e.due_on, e.previous_due_on, e.overridden_on, e.approver, e.reason)
        for e in events
        if isinstance(e, InvoiceDueDateOverridden)
    ]
    assert date(2024, 3, 1) == ledger.invoice("INV-1").current_due_on


def test_the_same_override_again_records_nothing(ledger: Ledger) -> None:
    fields = dict(
        due_on=date(2024, 3, 1),
        overridden_on=date(2024, 2, 1),
        reason="budget released in March",
        approver="Wang",
    )
    assert 1 == len(ledger.override_due_date("INV-1", **fields))  # type: ignore[arg-type]
    assert [] == ledger.override_due_date("INV-1", **fields)  # type: ignore[arg-type]


def test_an_invoice_with_instalments_or_nothing_open_takes_no_override(ledger: Ledger) -> None:
    ledger.issue_invoice(
        "INV-2",
        customer_code="HUADA",
        amount=cny("200.00"),
        issued_on=date(2024, 1, 1),
        instalments=(
            Instalment(due_on=date(2024, 2, 1), amount_minor=10_000),
            Instalment(due_on=date(2024, 3, 1), amount_minor=10_000),
        ),
    )
    with pytest.raises(InvalidCommandError):
        ledger.override_due_date(
            "INV-2",
            due_on=date(2024, 4, 1),
            overridden_on=date(2024, 2, 1),
            reason="plan",
            approver="Zhao",
        )
    ledger.write_off("INV-1", written_off_on=date(2024, 2, 1), reason="insolvent", approver="Zhao")
    with pytest.raises(InvoiceStateError):
        ledger.override_due_date(
            "INV-1",
            due_on=date(2024, 2, 20),
            overridden_on=date(2024, 2, 2),
            reason="late",
            approver="Zhao",
        )


def test_an_override_may_not_be_dated_before_an_earlier_one(ledger: Ledger) -> None:
    ledger.override_due_date(
        "INV-1",
        due_on=date(2024, 2, 20),
        overridden_on=date(2024, 2, 10),
        reason="first",
        approver="Wang",
    )
    with pytest.raises(InvalidDateError) as refused:
        ledger.override_due_date(
            "INV-1",
            due_on=date(2024, 2, 25),
            overridden_on=date(2024, 2, 5),
            reason="second",
            approver="Wang",
        )
    assert "overridden_on" == refused.value.field


def test_a_negative_postponement_limit_is_refused_in_the_policy() -> None:
    role = RoleAuthority(
        role="r",
        currency="CNY",
        reduction_max_minor=1,
        customer_period_max_minor=1,
        postponement_days_max=-1,
    )
    with pytest.raises(ConfigurationError) as refused:
        AuthorityPolicy(version=1, approvers=(ApproverRole(approver="A", role="r"),), roles=(role,))
    assert "postponement_days_max" == refused.value.field


def _ledgers(tmp_path: Path) -> tuple[Ledger, Ledger]:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    writer = opened(Ledger(env=env, clock=FixedClock()))
    writer.override_due_date(
        "INV-1",
        due_on=date(2024, 3, 15),
        overridden_on=date(2024, 2, 20),
        reason="budget released in March",
        approver="Zhao",
    )
    writer.close()
    return (
        Ledger(env={**env, "ARLEDGER_READ_MODELS": "stored"}),
        Ledger(env={**env, "ARLEDGER_READ_MODELS": "replay"}),
    )


def test_from_the_overrides_date_the_invoice_ages_and_escalates_from_the_new_due_date(
    tmp_path: Path,
) -> None:
    engine, replay = _ledgers(tmp_path)
    # Before the override (2024-02-19): 19 days past the issued due date; from it: current
    # until 2024-03-15, then past due from the new date.
    for as_of, days_past_due in (
        (date(2024, 2, 19), 19),
        (date(2024, 2, 20), 0),
        (date(2024, 3, 10), 0),
        (date(2024, 3, 25), 10),
    ):
        report = engine.ageing(as_of)
        assert replay.ageing(as_of) == report
        assert [days_past_due] == [row.days_past_due_max for row in report.rows]
        assert engine.escalation_status("HUADA", as_of) == replay.escalation_status("HUADA", as_of)
        assert list(engine.worklist(as_of)) == list(replay.worklist(as_of))
    # Past due on 2024-02-19, so on the worklist; not on 2024-03-10 after the postponement.
    assert ["HUADA"] == [item.customer_code for item in engine.worklist(date(2024, 2, 19))]
    assert [] == [item.customer_code for item in engine.worklist(date(2024, 3, 10))]
    engine.close()
    replay.close()


def test_a_postponement_requested_is_applied_when_an_approver_with_enough_days_approves(
    ledger: Ledger,
) -> None:
    ledger.request_reduction(
        "REQ-1",
        kind=ReductionKind.DUE_DATE_OVERRIDE,
        invoice_number="INV-1",
        due_on=date(2024, 4, 30),
        reduce_on=date(2024, 2, 1),
        reason="customer's budget cycle",
        requested_by="Liu",
        requested_on=date(2024, 2, 1),
    )
    pending = ledger.pending_approvals()
    assert [("REQ-1", ReductionKind.DUE_DATE_OVERRIDE, date(2024, 4, 30), 10_000_000)] == [
        (p.request_reference, p.kind, p.due_on, p.amount_minor) for p in pending
    ]
    # 90 days later: over the sales manager's 30, so not on Wang's list, and refused to him.
    assert () == ledger.pending_approvals(approver="Wang")
    assert ["REQ-1"] == [p.request_reference for p in ledger.pending_approvals(approver="Zhao")]
    with pytest.raises(AuthorityLimitError) as refused:
        ledger.approve_reduction("REQ-1", approver="Wang", approved_on=date(2024, 2, 2))
    assert "sales manager" == refused.value.role
    assert date(2024, 1, 31) == ledger.invoice("INV-1").current_due_on

    events = ledger.approve_reduction("REQ-1", approver="Zhao", approved_on=date(2024, 2, 2))

    assert [ReductionApproved, InvoiceDueDateOverridden] == [type(e) for e in events]
    assert date(2024, 4, 30) == ledger.invoice("INV-1").current_due_on
    assert () == ledger.pending_approvals()
    rows = ledger.reductions(date(2024, 2, 1), date(2024, 2, 29)).rows
    assert [
        (ReductionKind.DUE_DATE_OVERRIDE, "INV-1", 0, "Zhao", "due 2024-01-31 -> 2024-04-30")
    ] == [(r.kind, r.invoice_number, r.amount_minor, r.approver, r.reference) for r in rows]


def test_a_due_date_override_request_names_its_due_date_and_no_amount(ledger: Ledger) -> None:
    before = _events(ledger)
    with pytest.raises(InvalidCommandError) as refused:
        ledger.request_reduction(
            "REQ-1",
            kind=ReductionKind.DUE_DATE_OVERRIDE,
            invoice_number="INV-1",
            reduce_on=date(2024, 2, 1),
            reason="r",
            requested_by="Liu",
            requested_on=date(2024, 2, 1),
        )
    assert "due_on" == refused.value.field
    with pytest.raises(InvalidCommandError) as refused:
        ledger.request_reduction(
            "REQ-2",
            kind=ReductionKind.CONCESSION,
            invoice_number="INV-1",
            amount=cny("1.00"),
            due_on=date(2024, 4, 1),
            reduce_on=date(2024, 2, 1),
            reason="r",
            requested_by="Liu",
            requested_on=date(2024, 2, 1),
        )
    assert "due_on" == refused.value.field
    assert before == _events(ledger)


def test_the_cli_moves_a_due_date_and_lists_it_among_the_reductions(tmp_path: Path) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    opened(Ledger(env=env, clock=FixedClock())).close()
    override = [
        "override-due-date",
        "INV-1",
        "--due-on",
        "2024-02-20",
        "--on",
        "2024-02-01",
        "--approver",
        "Wang",
        "--reason",
        "delivery late",
    ]
    result = CliRunner().invoke(app, override, env=env)
    assert 0 == result.exit_code, result.output
    assert "recorded" in result.stdout
    refused = CliRunner().invoke(
        app, [*override[:3], "2024-06-30", *override[4:]], env={**env, "COLUMNS": "200"}
    )
    assert 1 == refused.exit_code
    assert "sales manager" in refused.output

    listed = CliRunner().invoke(
        app,
        ["reductions", "--from", "2024-02-01", "--to", "2024-02-29", "--format", "json"],
        env=env,
    )

    assert 0 == listed.exit_code, listed.output
    assert [("due_date_override", "INV-1", "Wang", "delivery late")] == [
        (row["kind"], row["invoice_number"], row["approver"], row["reason"])
        for row in json.loads(listed.stdout)["rows"]
    ]
