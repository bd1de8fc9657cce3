"""Idempotency keys on ``Ledger.execute``, for every kind of command.

The same key with the same commands again records nothing and answers the first call's events
(``recorded`` False); the key with other commands is refused (``IdempotencyKeyConflictError``)
and records nothing; a refused call does not use up its key.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.domain import commands as c
from arledger.domain.authority import ApproverRole, AuthorityPolicy, ReductionKind, RoleAuthority
from arledger.domain.commands import ALL_COMMANDS, Command, InvoiceAmount
from arledger.domain.errors import (
    AllocationKeyConflictError,
    ArledgerError,
    IdempotencyKeyConflictError,
    InvalidCommandError,
    InvalidTextError,
)
from arledger.domain.events import (
    ActionChannel,
    AllocationRule,
    ContactRole,
    DelinquencyType,
    DisputeOutcome,
    DisputeReason,
    PaymentTermsKind,
    ReceiptMethod,
    ReconciliationResolution,
    RiskRating,
)
from arledger.domain.money import Money
from arledger.domain.policy import EscalationPolicy
from arledger.projections.portfolio import fold_all as fold_portfolio


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


D = date(2024, 3, 1)

BASE: tuple[Command, ...] = (
    c.OpenAccount(
        customer_code="ACME",
        name="Acme Ltd",
        currency="USD",
        collection_owner="li",
        opened_on=date(2024, 1, 1),
    ),
    c.OpenAccount(
        customer_code="BETA",
        name="Beta plc",
        currency="USD",
        collection_owner="li",
        opened_on=date(2024, 1, 1),
    ),
    c.IssueInvoice(
        invoice_number="INV-1",
        customer_code="ACME",
        amount=usd("1200.00"),
        issued_on=date(2024, 1, 10),
    ),
    c.IssueInvoice(
        invoice_number="INV-2",
        customer_code="ACME",
        amount=usd("300.00"),
        issued_on=date(2024, 1, 15),
    ),
    c.IssueInvoice(
        invoice_number="INV-3",
        customer_code="ACME",
        amount=usd("100.00"),
        issued_on=date(2024, 1, 20),
    ),
    c.ReceivePayment(
        bank_reference="BANK-1", payer_code="ACME", amount=usd("500.00"), value_on=date(2024, 2, 20)
    ),
    c.ReceivePayment(
        bank_reference="BANK-2", payer_code="ACME", amount=usd("50.00"), value_on=date(2024, 2, 21)
    ),
    c.ReceivePayment(
        bank_reference="CASH-1",
        payer_code="ACME",
        amount=usd("20.00"),
        value_on=date(2024, 2, 22),
        method=ReceiptMethod.CASH,
        received_by="zhang",
    ),
    c.AllocatePayment(
        bank_reference="BANK-2",
        allocations=(InvoiceAmount(invoice_number="INV-2", amount=usd("50.00")),),
    ),
    c.WriteOff(invoice_number="INV-3", written_off_on=D, reason="insolvent", approver="cfo"),
    c.OpenDispute(
        invoice_number="INV-2",
        dispute_reference="D-0",
        amount=usd("40.00"),
        reason_code=DisputeReason.QUALITY,
        root_cause="scratched",
        opened_on=D,
    ),
    c.MakePromise(
        customer_code="ACME",
        promise_reference="P-0",
        amount=usd("100.00"),
        promised_on=date(2024, 3, 20),
        made_on=D,
        contact="Mr Wu",
    ),
    c.SendBalanceConfirmation(
        customer_code="ACME", confirmation_reference="C-0", balance_as_of=D, sent_on=D
    ),
    c.SendBalanceConfirmation(
        customer_code="ACME", confirmation_reference="C-R", balance_as_of=D, sent_on=D
    ),
    c.AcknowledgeBalanceConfirmation(
        customer_code="ACME",
        confirmation_reference="C-R",
        confirmed_balance=usd("1.00"),
        acknowledged_on=D,
    ),
    c.Blacklist(customer_code="ACME", blacklisted_on=D, reason="fraud"),
    c.HoldSupply(customer_code="ACME", held_on=D, reason="overdue"),
    c.RequestReduction(
        request_reference="R-0",
        kind=ReductionKind.CONCESSION,
        invoice_number="INV-1",
        amount=usd("5.00"),
        reduce_on=D,
        reason="rounding",
        requested_by="li",
        requested_on=D,
    ),
    *(
        c.ProposeGoodsInLieu(
            customer_code="ACME", settlement_reference=reference, goods="stock", quantity=1,
            unit="lot", appraised=usd("100.00"), appraiser="appraiser", proposed_on=D,
        )
        for reference in ("GIL-A", "GIL-B")
    ),
    c.ApproveGoodsInLieu(
        customer_code="ACME", settlement_reference="GIL-B", approver="cfo", reason="saleable",
        approved_on=D,
    ),
)  # fmt: skip
"""A ledger in which each case below is a command the ledger accepts."""

CASES: dict[type[Command], tuple[Command, dict[str, Any]]] = {
    c.OpenAccount: (
        c.OpenAccount(
            customer_code="GAMMA",
            name="Gamma",
            currency="EUR",
            collection_owner="li",
            opened_on=D,
        ),
        {"name": "Gamma GmbH"},
    ),
    c.IssueInvoice: (
        c.IssueInvoice(
            invoice_number="INV-9", customer_code="ACME", amount=usd("10.00"), issued_on=D
        ),
        {"amount": usd("10.01")},
    ),
    c.ReceivePayment: (
        c.ReceivePayment(
            bank_reference="BANK-9", payer_code="ACME", amount=usd("10.00"), value_on=D
        ),
        {"value_on": date(2024, 3, 2)},
    ),
    c.HandOverCash: (
        c.HandOverCash(
            bank_reference="CASH-1", handed_on=date(2024, 2, 23), received_by_finance="cashier"
        ),
        {"handed_on": date(2024, 2, 24)},
    ),
    c.AllocatePayment: (
        c.AllocatePayment(
            bank_reference="BANK-1",
            allocations=(InvoiceAmount(invoice_number="INV-1", amount=usd("100.00")),),
        ),
        {"allocations": (InvoiceAmount(invoice_number="INV-1", amount=usd("100.01")),)},
    ),
    c.ReversePayment: (
        c.ReversePayment(bank_reference="BANK-2", reversed_on=D, reason="returned"),
        {"reason": "bounced"},
    ),
    c.ApplyCreditNote: (
        c.ApplyCreditNote(
            invoice_number="INV-1",
            credit_note_number="CN-1",
            amount=usd("10.00"),
            applied_on=D,
            reason="price",
            approver="cfo",
        ),
        {"credit_note_number": "CN-2"},
    ),
    c.ApproveConcession: (
        c.ApproveConcession(
            invoice_number="INV-1", amount=usd("5.00"), approved_on=D, reason="late", approver="cfo"
        ),
        {"approver": "ceo"},
    ),
    c.OverrideDueDate: (
        c.OverrideDueDate(
            invoice_number="INV-2",
            due_on=date(2024, 4, 15),
            overridden_on=D,
            reason="budget cycle",
            approver="cfo",
        ),
        {"due_on": date(2024, 4, 30)},
    ),
    c.WriteOff: (
        c.WriteOff(invoice_number="INV-1", written_off_on=D, reason="gone", approver="cfo"),
        {"written_off_on": date(2024, 3, 2)},
    ),
    c.Reinstate: (
        c.Reinstate(invoice_number="INV-3", reinstated_on=D, reason="paying", approver="cfo"),
        {"reason": "found"},
    ),
    c.SetCreditLine: (
        c.SetCreditLine(
            customer_code="ACME", amount=usd("5000.00"), effective_on=D, approver="cfo", reason="r"
        ),
        {"amount": usd("6000.00")},
    ),
    c.SetCollectionTarget: (
        c.SetCollectionTarget(
            customer_code="ACME",
            month_on=date(2024, 4, 1),
            target=usd("1000.00"),
            set_by="li",
            set_on=D,
        ),
        {"target": usd("2000.00")},
    ),
    c.RateRisk: (
        c.RateRisk(customer_code="ACME", rating=RiskRating.C, rated_on=D, reason="late"),
        {"rating": RiskRating.D},
    ),
    c.Blacklist: (
        c.Blacklist(customer_code="BETA", blacklisted_on=D, reason="fraud"),
        {"customer_code": "ACME"},
    ),
    c.ClearBlacklist: (
        c.ClearBlacklist(customer_code="ACME", cleared_on=D, reason="paid"),
        {"cleared_on": date(2024, 3, 3)},
    ),
    c.FileBankruptcy: (
        c.FileBankruptcy(customer_code="ACME", filed_on=D, reason="court"),
        {"filed_on": date(2024, 3, 3)},
    ),
    c.SuspectFraud: (
        c.SuspectFraud(customer_code="ACME", suspected_on=D, reason="resold"),
        {"reason": "bounced"},
    ),
    c.ChangeTerms: (
        c.ChangeTerms(
            customer_code="ACME", terms_kind=PaymentTermsKind.NET, terms_days=45, changed_on=D
        ),
        {"terms_days": 60},
    ),
    c.SetPaymentCalendar: (
        c.SetPaymentCalendar(
            customer_code="ACME", book_closing_day=25, payment_run_days=(10, 25), set_on=D
        ),
        {"payment_run_days": (10,)},
    ),
    c.ChangeOwner: (
        c.ChangeOwner(customer_code="ACME", collection_owner="sam", changed_on=D),
        {"collection_owner": "kim"},
    ),
    c.SetKeyContact: (
        c.SetKeyContact(
            customer_code="ACME", role=ContactRole.PAYMENT_RESPONSIBLE, name="Mr Wu", set_on=D
        ),
        {"email": "wu@example.com"},
    ),
    c.HoldSupply: (
        c.HoldSupply(customer_code="BETA", held_on=D, reason="overdue"),
        {"by_policy": True},
    ),
    c.ReleaseSupply: (
        c.ReleaseSupply(customer_code="ACME", released_on=D, reason="paid"),
        {"reason": "promised"},
    ),
    c.SendBalanceConfirmation: (
        c.SendBalanceConfirmation(
            customer_code="ACME", confirmation_reference="C-1", balance_as_of=D, sent_on=D
        ),
        {"confirmation_reference": "C-2"},
    ),
    c.AcknowledgeBalanceConfirmation: (
        c.AcknowledgeBalanceConfirmation(
            customer_code="ACME",
            confirmation_reference="C-0",
            confirmed_balance=usd("1000.00"),
            acknowledged_on=D,
        ),
        {"confirmed_balance": usd("999.00")},
    ),
    c.ResolveReconciliation: (
        c.ResolveReconciliation(
            customer_code="ACME",
            confirmation_reference="C-R",
            resolution=ReconciliationResolution.PAYMENT,
            reference="BANK-1",
            resolved_on=D,
            note="paid, not yet applied",
        ),
        {"note": "found"},
    ),
    c.AcceptReconciliation: (
        c.AcceptReconciliation(
            customer_code="ACME",
            confirmation_reference="C-R",
            approver="cfo",
            accepted_on=D,
            reason="small",
        ),
        {"approver": "ceo"},
    ),
    c.OpenDispute: (
        c.OpenDispute(
            invoice_number="INV-1",
            dispute_reference="D-1",
            amount=usd("20.00"),
            reason_code=DisputeReason.PRICING,
            root_cause="list price",
            opened_on=D,
        ),
        {"root_cause": "discount"},
    ),
    c.ResolveDispute: (
        c.ResolveDispute(
            invoice_number="INV-2",
            dispute_reference="D-0",
            outcome=DisputeOutcome.UPHELD,
            resolved_on=D,
            note="confirmed",
            approver="cfo",
        ),
        {"outcome": DisputeOutcome.REJECTED},
    ),
    c.MakePromise: (
        c.MakePromise(
            customer_code="ACME",
            promise_reference="P-1",
            amount=usd("50.00"),
            promised_on=date(2024, 3, 25),
            made_on=D,
            contact="Mr Wu",
            invoice_numbers=("INV-1",),
        ),
        {"invoice_numbers": ()},
    ),
    c.WithdrawPromise: (
        c.WithdrawPromise(promise_reference="P-0", withdrawn_on=D, reason="replaced"),
        {"withdrawn_on": date(2024, 3, 4)},
    ),
    c.RecordAction: (
        c.RecordAction(
            customer_code="ACME",
            channel=ActionChannel.PHONE,
            taken_on=D,
            collector="li",
            contact="Mr Wu",
            outcome="promised",
        ),
        {"channel": ActionChannel.EMAIL},
    ),
    c.Diagnose: (
        c.Diagnose(
            customer_code="ACME",
            delinquency_type=DelinquencyType.WEAK_CHASING,
            diagnosed_on=D,
            note="n",
        ),
        {"delinquency_type": DelinquencyType.CASH_FLOW_SQUEEZE},
    ),
    c.WaiveNegotiation: (
        c.WaiveNegotiation(customer_code="ACME", waived_on=D, approver="cfo", reason="fraud"),
        {"reason": "insolvent"},
    ),
    c.AdoptAllocationRule: (
        c.AdoptAllocationRule(
            customer_code="ACME",
            rule=AllocationRule.PROPORTIONAL,
            effective_on=date(2024, 7, 1),
            approver="cfo",
            reason="pro rata",
        ),
        {"rule": AllocationRule.EXPLICIT_ONLY},
    ),
    c.ProposeGoodsInLieu: (
        c.ProposeGoodsInLieu(
            customer_code="ACME",
            settlement_reference="GIL-1",
            goods="stock",
            quantity=1,
            unit="lot",
            appraised=usd("100.00"),
            appraiser="appraiser",
            proposed_on=D,
        ),
        {"appraised": usd("200.00")},
    ),
    c.ApproveGoodsInLieu: (
        c.ApproveGoodsInLieu(
            customer_code="ACME",
            settlement_reference="GIL-A",
            approver="cfo",
            reason="saleable",
            approved_on=D,
        ),
        {"reason": "another reason"},
    ),
    c.SettleGoodsInLieu: (
        c.SettleGoodsInLieu(
            customer_code="ACME",
            settlement_reference="GIL-B",
            allocations=(InvoiceAmount(invoice_number="INV-1", amount=usd("70.00")),),
            settled_on=D,
        ),
        {"settled_on": date(2024, 3, 2)},
    ),
    c.AdoptPolicy: (
        c.AdoptPolicy(
            policy=EscalationPolicy(version=2, promise_tolerance_days=5),
            effective_on=date(2024, 7, 1),
            approver="cfo",
            reason="looser",
        ),
        {"approver": "ceo"},
    ),
    c.AdoptAuthorityPolicy: (
        c.AdoptAuthorityPolicy(
            policy=AuthorityPolicy(
                version=1,
                approvers=(ApproverRole(approver="cfo", role="cfo"),),
                roles=(
                    RoleAuthority(
                        role="cfo",
                        currency="USD",
                        reduction_max_minor=100_000_00,
                        customer_period_max_minor=500_000_00,
                    ),
                ),
            ),
            effective_on=date(2024, 7, 1),
            approver="board",
            reason="delegation",
        ),
        {"approver": "ceo"},
    ),
    c.RequestReduction: (
        c.RequestReduction(
            request_reference="R-1",
            kind=ReductionKind.CREDIT_NOTE,
            invoice_number="INV-1",
            amount=usd("10.00"),
            credit_note_number="CN-R1",
            reduce_on=D,
            reason="price",
            requested_by="li",
            requested_on=D,
        ),
        {"reason": "short delivery"},
    ),
    c.ApproveReduction: (
        c.ApproveReduction(request_reference="R-0", approver="cfo", approved_on=D),
        {"approved_on": date(2024, 3, 4)},
    ),
    c.RejectReduction: (
        c.RejectReduction(
            request_reference="R-0", rejected_by="cfo", rejected_on=D, reason="not agreed"
        ),
        {"reason": "no"},
    ),
    c.RecordExchangeRate: (
        c.RecordExchangeRate(
            from_currency="USD",
            to_currency="CNY",
            rate=Decimal("7.1"),
            effective_on=date(2024, 7, 1),
            source="PBOC central parity",
        ),
        {"rate": Decimal("7.2")},
    ),
}


@pytest.fixture
def ledger(clock: Any) -> Iterator[Ledger]:
    ledger = Ledger({"ARLEDGER_STORE": "memory"}, clock=clock)
    ledger.execute(*BASE)
    yield ledger
    ledger.close()


def log_size(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


def test_every_command_kind_has_a_case() -> None:
    assert set(ALL_COMMANDS) == set(CASES)
    for cls, (command, other) in CASES.items():
        assert type(command) is cls
        assert attrs.evolve(command, **other) != command


@pytest.mark.parametrize("cls", ALL_COMMANDS, ids=lambda cls: cls.__name__)
def test_the_same_key_and_content_again_records_nothing_and_answers_the_first_result(
    ledger: Ledger, cls: type[Command]
) -> None:
    command, _other = CASES[cls]
    first = ledger.execute(command, idempotency_key=f"key-{cls.__name__}")
    size = log_size(ledger)

    again = ledger.execute(command, idempotency_key=f"key-{cls.__name__}")

    assert first.recorded
    assert first.events
    assert not again.recorded
    assert first.events_by_command == again.events_by_command
    assert size == log_size(ledger)


@pytest.mark.parametrize("cls", ALL_COMMANDS, ids=lambda cls: cls.__name__)
def test_the_same_key_with_other_content_is_refused_and_records_nothing(
    ledger: Ledger, cls: type[Command]
) -> None:
    command, other = CASES[cls]
    ledger.execute(command, idempotency_key="key-1")
    size = log_size(ledger)

    with pytest.raises(IdempotencyKeyConflictError) as refused:
        ledger.execute(attrs.evolve(command, **other), idempotency_key="key-1")

    assert "key-1" == refused.value.idempotency_key
    assert size == log_size(ledger)


@pytest.mark.parametrize("cls", ALL_COMMANDS, ids=lambda cls: cls.__name__)
def test_a_refused_call_records_nothing_and_leaves_its_key_unused(
    ledger: Ledger, cls: type[Command]
) -> None:
    command, _other = CASES[cls]
    unknown = c.WriteOff(invoice_number="NO-SUCH", written_off_on=D, reason="r", approver="a")
    size = log_size(ledger)

    with pytest.raises(ArledgerError):
        ledger.execute(command, unknown, idempotency_key="key-1")

    assert size == log_size(ledger)
    assert ledger.execute(command, idempotency_key="key-1").recorded


def test_a_key_for_one_kind_of_command_is_refused_for_another(ledger: Ledger) -> None:
    ledger.execute(CASES[c.RateRisk][0], idempotency_key="key-1")

    with pytest.raises(IdempotencyKeyConflictError):
        ledger.execute(CASES[c.ChangeOwner][0], idempotency_key="key-1")


def test_the_key_answers_the_first_result_after_the_state_moved_on(ledger: Ledger) -> None:
    """An allocation retried after the payment was spent elsewhere answers the first result,
    not a refusal (nothing is decided again)."""
    command, _other = CASES[c.AllocatePayment]
    first = ledger.execute(command, idempotency_key="remit-1")
    ledger.allocate_payment("BANK-1")  # the rest of the payment, oldest due first

    again = ledger.execute(command, idempotency_key="remit-1")

    assert not again.recorded
    assert first.events == again.events


def test_commands_of_one_call_are_recorded_together_or_not_at_all(ledger: Ledger) -> None:
    issue, _ = CASES[c.IssueInvoice]
    dispute = c.OpenDispute(
        invoice_number="INV-9",
        dispute_reference="D-9",
        amount=usd("10.01"),  # more than the invoice
        reason_code=DisputeReason.PRICING,
        root_cause="r",
        opened_on=D,
    )
    size = log_size(ledger)

    with pytest.raises(InvalidCommandError):
        ledger.execute(issue, dispute)

    assert size == log_size(ledger)
    result = ledger.execute(issue, attrs.evolve(dispute, amount=usd("10.00")))
    assert [2, 1] == [len(events) for events in result.events_by_command]


def test_without_a_key_a_repeat_of_a_business_key_says_nothing_was_recorded(
    ledger: Ledger,
) -> None:
    issue, _ = CASES[c.IssueInvoice]

    assert ledger.execute(issue).recorded
    assert not ledger.execute(issue).recorded


def test_the_convenience_methods_take_the_key_too(ledger: Ledger) -> None:
    first = ledger.rate_risk(
        customer_code="ACME", rating=RiskRating.C, rated_on=D, reason="late", idempotency_key="k"
    )
    size = log_size(ledger)

    assert first == ledger.rate_risk(
        customer_code="ACME", rating=RiskRating.C, rated_on=D, reason="late", idempotency_key="k"
    )
    assert size == log_size(ledger)
    with pytest.raises(IdempotencyKeyConflictError):
        ledger.rate_risk(
            customer_code="ACME",
            rating=RiskRating.D,
            rated_on=D,
            reason="late",
            idempotency_key="k",
        )


def test_an_allocation_key_conflict_is_an_idempotency_key_conflict(ledger: Ledger) -> None:
    ledger.allocate_payment("BANK-1", {"INV-1": usd("10.00")}, allocation_key="remit-1")

    with pytest.raises(IdempotencyKeyConflictError) as refused:
        ledger.allocate_payment("BANK-1", {"INV-1": usd("20.00")}, allocation_key="remit-1")

    assert isinstance(refused.value, AllocationKeyConflictError)
    assert "remit-1" == refused.value.idempotency_key


@pytest.mark.parametrize("key", ["", " padded ", "zero\u200bwidth"])
def test_a_key_that_is_not_a_key_is_refused(ledger: Ledger, key: str) -> None:
    with pytest.raises(InvalidTextError):
        ledger.execute(CASES[c.RateRisk][0], idempotency_key=key)


def test_an_empty_call_is_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidCommandError):
        ledger.execute()


def test_the_key_outlives_the_process_and_the_read_models_never_see_it(
    tmp_path: Path, clock: Any
) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    first_process = Ledger(env, clock=clock)
    first_process.execute(*BASE)
    command, other = CASES[c.AllocatePayment]
    first = first_process.execute(command, idempotency_key="remit-1")
    first_process.close()

    second_process = Ledger(env, clock=clock)
    size = log_size(second_process)
    again = second_process.execute(command, idempotency_key="remit-1")
    with pytest.raises(IdempotencyKeyConflictError):
        second_process.execute(attrs.evolve(command, **other), idempotency_key="remit-1")

    assert not again.recorded
    assert first.events == again.events
    assert size == log_size(second_process)
    report = second_process.ageing(D)  # the stored read models read past the key's record
    assert [usd("1500.00").amount_minor - 100_00 - 50_00] == [row.open_minor for row in report.rows]
    assert all(type(event).__module__.endswith("events") for event in second_process.iter_events())
    stored = second_process.portfolio()  # the projection runner's read models, caught up
    replayed = fold_portfolio(second_process.iter_events())
    assert replayed.customers.keys() == stored.customers.keys()
    assert replayed.ageing.invoices == stored.ageing.invoices
    second_process.close()
