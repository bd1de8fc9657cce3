"""Approval on every reduction (issue 13.1), scenarios from the collection handbooks: a written
waiver is never given without a named approver, approvers have limits by role (policy data with
effective dates), some reductions need two approvers, a reduction can be requested and approved
later, and an auditor asks for every reduction of a period by approver, reason and customer."""

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
    AuthorityPeriod,
    AuthorityPolicy,
    Ledger,
    Money,
    ReductionKind,
    ReductionRequestStateError,
    RoleAuthority,
    SecondApproverRequiredError,
    UnknownApproverError,
)
from arledger.adapters.cli.app import app
from arledger.domain.events import (
    ConcessionApproved,
    CreditNoteApplied,
    DisputeOutcome,
    DisputeReason,
    ReductionApproved,
)
from tests.conftest import FixedClock


def cny(text: str) -> Money:
    return Money.parse(text, "CNY")


POLICY = AuthorityPolicy(
    version=1,
    approvers=(
        ApproverRole(approver="Wang", role="sales manager"),
        ApproverRole(approver="Li", role="sales manager"),
        ApproverRole(approver="Zhao", role="finance director"),
        ApproverRole(approver="Chen", role="general manager"),
    ),
    roles=(
        RoleAuthority(
            role="sales manager",
            currency="CNY",
            reduction_max_minor=cny("50000.00").amount_minor,
            customer_period_max_minor=cny("80000.00").amount_minor,
        ),
        RoleAuthority(
            role="finance director",
            currency="CNY",
            reduction_max_minor=cny("500000.00").amount_minor,
            customer_period_max_minor=cny("1000000.00").amount_minor,
            two_approvers_above_minor=cny("100000.00").amount_minor,
        ),
        RoleAuthority(
            role="general manager",
            currency="CNY",
            reduction_max_minor=cny("5000000.00").amount_minor,
            customer_period_max_minor=cny("5000000.00").amount_minor,
        ),
    ),
    period=AuthorityPeriod.MONTH,
)


@pytest.fixture
def ledger() -> Ledger:
    return opened(Ledger({"ARLEDGER_STORE": "memory"}, clock=FixedClock()))


def opened(ledger: Ledger) -> Ledger:
    """HUADA with a 1,000,000.00 CNY invoice, under ``POLICY`` from 2024-01-01."""
    ledger.open_account(
        "HUADA",
        name="Huada Trading",
        currency="CNY",
        collection_owner="Liu",
        opened_on=date(2024, 1, 1),
    )
    ledger.issue_invoice(
        "INV-1", customer_code="HUADA", amount=cny("1000000.00"), issued_on=date(2024, 1, 10)
    )
    ledger.adopt_authority_policy(
        policy=POLICY, effective_on=date(2024, 1, 1), approver="Board", reason="delegation"
    )
    return ledger


def test_a_credit_note_without_an_approver_is_refused_and_nothing_is_recorded(
    ledger: Ledger,
) -> None:
    with pytest.raises(ApproverRequiredError) as refused:
        ledger.apply_credit_note(
            "INV-1",
            credit_note_number="CN-1",
            amount=cny("100.00"),
            applied_on=date(2024, 2, 1),
            reason="goodwill",
            approver="",
        )
    assert "approver" == refused.value.field
    assert 0 == ledger.invoice("INV-1").credited_minor


def test_200000_over_a_roles_50000_limit_is_refused_naming_the_limit_and_the_role(
    ledger: Ledger,
) -> None:
    with pytest.raises(AuthorityLimitError) as refused:
        ledger.apply_credit_note(
            "INV-1",
            credit_note_number="CN-1",
            amount=cny("200000.00"),
            applied_on=date(2024, 2, 1),
            reason="price adjustment",
            approver="Wang",
        )
    assert "sales manager" == refused.value.role
    assert 5_000_000 == refused.value.limit_minor
    assert 20_000_000 == refused.value.amount_minor
    assert "per reduction" == refused.value.limit
    assert "50000.00 CNY" in str(refused.value)
    assert "200000.00 CNY" in str(refused.value)
    assert "sales manager" in str(refused.value)
    assert 0 == ledger.invoice("INV-1").credited_minor


def test_a_reduction_within_authority_is_recorded_with_its_approver(ledger: Ledger) -> None:
    events = ledger.apply_credit_note(
        "INV-1",
        credit_note_number="CN-1",
        amount=cny("30000.00"),
        applied_on=date(2024, 2, 1),
        reason="price adjustment",
        approver="Wang",
    )
    applied = [event for event in events if isinstance(event, CreditNoteApplied)]
    assert ["Wang"] == [event.approver for event in applied]
    assert 3_000_000 == ledger.invoice("INV-1").credited_minor


def test_an_approver_the_policy_does_not_name_is_refused(ledger: Ledger) -> None:
    with pytest.raises(UnknownApproverError) as refused:
        ledger.approve_concession(
            "INV-1",
            amount=cny("10.00"),
            approved_on=date(2024, 2, 1),
            reason="rounding",
            approver="Zhou",
        )
    assert "Zhou" == refused.value.approver


def test_the_per_customer_per_period_limit_sums_the_roles_earlier_reductions(
    ledger: Ledger,
) -> None:
    ledger.approve_concession(
        "INV-1",
        amount=cny("50000.00"),
        approved_on=date(2024, 2, 1),
        reason="volume rebate",
        approver="Wang",
    )
    # Li holds the same role as Wang: the role's 80,000.00 a month for HUADA is shared, so
    # a second sales manager cannot approve another 40,000.00 in February.
    with pytest.raises(AuthorityLimitError) as refused:
        ledger.approve_concession(
            "INV-1",
            amount=cny("40000.00"),
            approved_on=date(2024, 2, 20),
            reason="second rebate",
            approver="Li",
        )
    assert "per customer per period" == refused.value.limit
    assert "sales manager" == refused.value.role
    assert 8_000_000 == refused.value.limit_minor
    assert 5_000_000 == refused.value.approved_minor
    assert 5_000_000 == ledger.invoice("INV-1").conceded_minor
    # Within what the role has left it is recorded; another role has its own sum.
    ledger.approve_concession(
        "INV-1",
        amount=cny("30000.00"),
        approved_on=date(2024, 2, 20),
        reason="second rebate",
        approver="Li",
    )
    ledger.approve_concession(
        "INV-1",
        amount=cny("90000.00"),
        approved_on=date(2024, 2, 21),
        reason="third rebate",
        approver="Zhao",
    )
    # Another month is another period.
    ledger.approve_concession(
        "INV-1",
        amount=cny("40000.00"),
        approved_on=date(2024, 3, 1),
        reason="fourth rebate",
        approver="Wang",
    )
    ledger.approve_concession(
        "INV-1",
        amount=cny("40000.00"),
        approved_on=date(2024, 3, 1),
        reason="fifth rebate",
        approver="Li",
    )
    assert 25_000_000 == ledger.invoice("INV-1").conceded_minor


def test_limits_come_from_the_policy_in_force_on_the_reductions_date(ledger: Ledger) -> None:
    raised = AuthorityPolicy(
        version=2,
        approvers=POLICY.approvers,
        roles=tuple(
            RoleAuthority(
                role=limit.role,
                currency=limit.currency,
                reduction_max_minor=limit.reduction_max_minor * 10,
                customer_period_max_minor=limit.customer_period_max_minor * 10,
                two_approvers_above_minor=limit.two_approvers_above_minor,
            )
            for limit in POLICY.roles
        ),
    )
    ledger.adopt_authority_policy(
        policy=raised, effective_on=date(2024, 6, 1), approver="Board", reason="growth"
    )
    with pytest.raises(AuthorityLimitError):
        ledger.write_off(
            "INV-1", written_off_on=date(2024, 5, 31), reason="bankrupt", approver="Wang"
        )
    with pytest.raises(AuthorityLimitError):  # 1,000,000.00 is over 500,000.00 still
        ledger.write_off(
            "INV-1", written_off_on=date(2024, 6, 1), reason="bankrupt", approver="Wang"
        )
    ledger.approve_concession(
        "INV-1",
        amount=cny("200000.00"),
        approved_on=date(2024, 6, 1),
        reason="settlement",
        approver="Wang",
    )


def test_an_upheld_dispute_needs_an_approver_for_its_credit_note(ledger: Ledger) -> None:
    ledger.open_dispute(
        invoice_number="INV-1",
        dispute_reference="D-1",
        amount=cny("20000.00"),
        reason_code=DisputeReason.QUALITY,
        root_cause="damaged goods",
        opened_on=date(2024, 2, 1),
    )
    with pytest.raises(ApproverRequiredError):
        ledger.resolve_dispute(
            invoice_number="INV-1",
            dispute_reference="D-1",
            outcome=DisputeOutcome.UPHELD,
            resolved_on=date(2024, 2, 10),
            note="confirmed",
        )
    events = ledger.resolve_dispute(
        invoice_number="INV-1",
        dispute_reference="D-1",
        outcome=DisputeOutcome.UPHELD,
        resolved_on=date(2024, 2, 10),
        note="confirmed",
        approver="Li",
    )
    assert ["Li"] == [e.approver for e in events if isinstance(e, CreditNoteApplied)]


def test_above_the_two_approver_threshold_one_approver_is_not_enough(ledger: Ledger) -> None:
    with pytest.raises(SecondApproverRequiredError):
        ledger.approve_concession(
            "INV-1",
            amount=cny("150000.00"),
            approved_on=date(2024, 2, 1),
            reason="settlement",
            approver="Zhao",
        )
    events = ledger.approve_concession(
        "INV-1",
        amount=cny("150000.00"),
        approved_on=date(2024, 2, 1),
        reason="settlement",
        approver="Zhao",
        second_approver="Chen",
    )
    (conceded,) = events
    assert isinstance(conceded, ConcessionApproved)
    assert ("Zhao", "Chen") == (conceded.approver, conceded.second_approver)


def test_a_requested_reduction_waits_for_its_approvers_then_applies(ledger: Ledger) -> None:
    ledger.request_reduction(
        "REQ-1",
        kind=ReductionKind.CREDIT_NOTE,
        invoice_number="INV-1",
        amount=cny("150000.00"),
        credit_note_number="CN-9",
        reduce_on=date(2024, 2, 1),
        reason="returned goods",
        requested_by="Liu",
        requested_on=date(2024, 2, 1),
    )
    assert 0 == ledger.invoice("INV-1").credited_minor
    (pending,) = ledger.pending_approvals()
    assert ("REQ-1", "HUADA", "INV-1", 15_000_000) == (
        pending.request_reference,
        pending.customer_code,
        pending.invoice_number,
        pending.amount_minor,
    )
    # Wang's limit is 50,000.00: the request is not shown to him, and his approval is refused.
    assert () == ledger.pending_approvals(approver="Wang")
    with pytest.raises(AuthorityLimitError):
        ledger.approve_reduction("REQ-1", approver="Wang", approved_on=date(2024, 2, 2))
    (first,) = ledger.approve_reduction("REQ-1", approver="Zhao", approved_on=date(2024, 2, 2))
    assert isinstance(first, ReductionApproved)
    assert not first.applied
    assert 0 == ledger.invoice("INV-1").credited_minor
    assert () == ledger.pending_approvals(approver="Zhao")
    assert ["REQ-1"] == [p.request_reference for p in ledger.pending_approvals(approver="Chen")]
    with pytest.raises(ReductionRequestStateError):
        ledger.approve_reduction("REQ-1", approver="Zhao", approved_on=date(2024, 2, 3))
    events = ledger.approve_reduction("REQ-1", approver="Chen", approved_on=date(2024, 2, 3))
    applied = [event for event in events if isinstance(event, CreditNoteApplied)]
    assert [("Zhao", "Chen")] == [(e.approver, e.second_approver) for e in applied]
    assert 15_000_000 == ledger.invoice("INV-1").credited_minor
    assert () == ledger.pending_approvals()
    with pytest.raises(ReductionRequestStateError):
        ledger.approve_reduction("REQ-1", approver="Wang", approved_on=date(2024, 2, 4))


def request_write_off(ledger: Ledger, reference: str) -> None:
    """Liu asks on 2024-02-01 to write INV-1 off."""
    ledger.request_reduction(
        reference,
        kind=ReductionKind.WRITE_OFF,
        invoice_number="INV-1",
        reduce_on=date(2024, 2, 1),
        reason="customer vanished",
        requested_by="Liu",
        requested_on=date(2024, 2, 1),
    )


def test_a_rejected_request_is_never_applied(ledger: Ledger) -> None:
    request_write_off(ledger, "REQ-2")
    ledger.reject_reduction(
        "REQ-2", rejected_by="Chen", rejected_on=date(2024, 2, 2), reason="sue first"
    )
    assert () == ledger.pending_approvals()
    with pytest.raises(ReductionRequestStateError):
        ledger.approve_reduction("REQ-2", approver="Chen", approved_on=date(2024, 2, 3))
    assert not ledger.invoice("INV-1").is_written_off


def test_the_auditor_sees_every_reduction_of_a_period_by_approver_and_customer(
    ledger: Ledger,
) -> None:
    ledger.issue_invoice(
        "INV-2", customer_code="HUADA", amount=cny("1000.00"), issued_on=date(2024, 1, 10)
    )
    ledger.apply_credit_note(
        "INV-1",
        credit_note_number="CN-1",
        amount=cny("100.00"),
        applied_on=date(2024, 1, 31),
        reason="short delivery",
        approver="Wang",
    )
    ledger.approve_concession(
        "INV-1",
        amount=cny("200.00"),
        approved_on=date(2024, 2, 1),
        reason="late delivery",
        approver="Li",
    )
    ledger.write_off("INV-2", written_off_on=date(2024, 2, 29), reason="small", approver="Wang")
    february = ledger.reductions(date(2024, 2, 1), date(2024, 2, 29))
    assert [
        (ReductionKind.CONCESSION, "INV-1", 20_000, "Li", "late delivery"),
        (ReductionKind.WRITE_OFF, "INV-2", 100_000, "Wang", "small"),
    ] == [
        (row.kind, row.invoice_number, row.amount_minor, row.approver, row.reason)
        for row in february.rows
    ]
    by_wang = ledger.reductions(date(2024, 1, 1), date(2024, 12, 31), approver="Wang")
    assert ["CN-1", ""] == [row.reference for row in by_wang.rows]
    assert 110_000 == by_wang.total_minor("CNY")
    assert () == ledger.reductions(date(2024, 1, 1), date(2024, 12, 31), customer_code="X").rows


def record_history(ledger: Ledger) -> None:
    """A reduction of each kind, one by two approvers, and a request still pending."""
    opened(ledger)
    ledger.apply_credit_note(
        "INV-1",
        credit_note_number="CN-1",
        amount=cny("100.00"),
        applied_on=date(2024, 1, 31),
        reason="short delivery",
        approver="Wang",
    )
    ledger.approve_concession(
        "INV-1",
        amount=cny("150000.00"),
        approved_on=date(2024, 2, 1),
        reason="settlement",
        approver="Zhao",
        second_approver="Chen",
    )
    ledger.request_reduction(
        "REQ-1",
        kind=ReductionKind.CONCESSION,
        invoice_number="INV-1",
        amount=cny("20000.00"),
        reduce_on=date(2024, 2, 5),
        reason="volume rebate",
        requested_by="Liu",
        requested_on=date(2024, 2, 5),
    )


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {
        "ARLEDGER_STORE": "sqlite",
        "ARLEDGER_DB": str(Path(tmp_path_factory.mktemp("reductions")) / "ledger.db"),
    }
    ledger = Ledger(env=env, clock=FixedClock())
    record_history(ledger)
    ledger.close()
    return env


def test_the_query_engine_and_a_replay_give_the_same_reductions_and_requests(
    cli_store: dict[str, str],
) -> None:
    stored = Ledger(env={**cli_store, "ARLEDGER_READ_MODELS": "stored"})
    replayed = Ledger(env={**cli_store, "ARLEDGER_READ_MODELS": "replay"})
    period = (date(2024, 1, 1), date(2024, 12, 31))

    assert 2 == len(stored.reductions(*period).rows)
    assert replayed.reductions(*period) == stored.reductions(*period)
    assert ["REQ-1"] == [p.request_reference for p in stored.pending_approvals(approver="Li")]
    assert replayed.pending_approvals() == stored.pending_approvals()
    stored.close()
    replayed.close()


def test_the_cli_lists_the_reductions_of_a_period_with_approvers_and_reasons(
    cli_store: dict[str, str],
) -> None:
    result = CliRunner().invoke(
        app,
        ["reductions", "--from", "2024-02-01", "--to", "2024-02-29", "--format", "json"],
        env=cli_store,
    )

    assert 0 == result.exit_code, result.output
    data = json.loads(result.stdout)
    assert [("concession", "HUADA", "150000.00", "Zhao", "Chen", "settlement")] == [
        (
            row["kind"],
            row["customer_code"],
            row["amount"],
            row["approver"],
            row["second_approver"],
            row["reason"],
        )
        for row in data["rows"]
    ]
    assert {"CNY": "150000.00"} == data["totals"]


def test_the_cli_filters_reductions_by_approver_in_csv(cli_store: dict[str, str]) -> None:
    by_wang = ["reductions", "--from", "2024-01-01", "--to", "2024-12-31", "--approver", "Wang"]
    result = CliRunner().invoke(app, by_wang, env={**cli_store, "COLUMNS": "200"})
    csv_result = CliRunner().invoke(
        app,
        [*by_wang, "--format", "csv"],
        env=cli_store,
    )

    assert 0 == result.exit_code, result.output
    assert "CN-1" in result.stdout
    assert "settlement" not in result.stdout
    assert [
        "reduced_on,kind,customer_code,invoice_number,reference,currency,amount,approver,"
        "second_approver,reason",
        "2024-01-31,credit_note,HUADA,INV-1,CN-1,CNY,100.00,Wang,,short delivery",
    ] == csv_result.stdout.splitlines()


def test_the_cli_shows_an_approver_the_requests_waiting_for_them(
    cli_store: dict[str, str],
) -> None:
    for_li = CliRunner().invoke(
        app, ["pending-approvals", "--approver", "Li", "--format", "json"], env=cli_store
    )
    for_stranger = CliRunner().invoke(
        app, ["pending-approvals", "--approver", "Zhou", "--format", "json"], env=cli_store
    )

    assert 0 == for_li.exit_code, for_li.output
    assert [("REQ-1", "20000.00", "Liu")] == [
        (row["request_reference"], row["amount"], row["requested_by"])
        for row in json.loads(for_li.stdout)["requests"]
    ]
    assert [] == json.loads(for_stranger.stdout)["requests"]


def test_the_cli_refuses_a_period_that_ends_before_it_starts(cli_store: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app, ["reductions", "--from", "2024-03-01", "--to", "2024-02-01"], env=cli_store
    )

    assert 1 == result.exit_code
    assert "Traceback" not in result.output


def test_the_engine_decodes_only_open_requests_and_answers_as_the_replay_at_every_position(
    tmp_path: Path,
) -> None:
    """The engine chooses the open requests by column (closed by an approval that applied
    the reduction, or by a rejection) before decoding any: a request approved once and
    waiting for its second approver stays open, and at every position of the history both
    paths list the same requests for every approver."""
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    stored = opened(Ledger(env, clock=FixedClock(), read_models="stored"))
    for reference, amount in (("REQ-A", "150000.00"), ("REQ-B", "40000.00"), ("REQ-C", "30000.00")):
        stored.request_reduction(
            reference,
            kind=ReductionKind.CONCESSION,
            invoice_number="INV-1",
            amount=cny(amount),
            reduce_on=date(2024, 2, 5),
            reason="volume rebate",
            requested_by="Liu",
            requested_on=date(2024, 2, 5),
        )
    stored.approve_reduction("REQ-A", approver="Zhao", approved_on=date(2024, 2, 6))
    stored.reject_reduction("REQ-B", rejected_by="Chen", rejected_on=date(2024, 2, 6), reason="no")
    stored.approve_reduction("REQ-C", approver="Wang", approved_on=date(2024, 2, 6))
    replayed = Ledger(env, clock=FixedClock(), read_models="replay")
    head = stored.worklist(date(2024, 2, 6)).as_of_log.position
    for position in range(1, head + 1):
        for approver in (None, "Wang", "Zhao", "Chen"):
            assert replayed.pending_approvals(
                approver=approver, at_position=position
            ) == stored.pending_approvals(approver=approver, at_position=position), (
                position,
                approver,
            )
    pending = stored.pending_approvals()
    assert [("REQ-A", ("Zhao",))] == [(p.request_reference, p.approved_by) for p in pending]
    assert ["REQ-A"] == [p.request_reference for p in stored.pending_approvals(approver="Chen")]
    stored.close()
    replayed.close()


def test_the_worklist_table_shows_the_first_requests_and_says_how_many_more(
    tmp_path: Path,
) -> None:
    """Under the worklist, the requests waiting for approval are cut at --limit like the
    customers (a generated 1M ledger waits on thousands), saying so; --limit 0 shows all."""
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = opened(Ledger(env, clock=FixedClock()))
    for reference in ("REQ-A", "REQ-B", "REQ-C"):
        request_write_off(ledger, reference)
    ledger.close()
    runner = CliRunner()
    wide = {**env, "COLUMNS": "250"}
    cut = runner.invoke(app, ["worklist", "--as-of", "2024-02-06", "--limit", "2"], env=wide)
    assert 0 == cut.exit_code, cut.output
    assert ("REQ-A" in cut.output, "REQ-B" in cut.output, "REQ-C" in cut.output) == (
        True,
        True,
        False,
    )
    assert "The first 2 of 3 requests: --limit 0 shows all" in cut.output
    whole = runner.invoke(app, ["worklist", "--as-of", "2024-02-06", "--limit", "0"], env=wide)
    assert 0 == whole.exit_code, whole.output
    assert "REQ-C" in whole.output
    assert "The first" not in whole.output
