"""The collections commands and queries through the ``Ledger``, on the in-memory and SQLite
stores: Money arguments, one transaction per command, nothing recorded when refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from arledger import Ledger, Money
from arledger.domain.errors import (
    ConfigurationError,
    ConfirmationNotFoundError,
    CurrencyMismatchError,
    CustomerStateError,
    DisputedAmountError,
    DisputeNotFoundError,
    DisputeStateError,
    DuplicateKeyConflictError,
    InvalidAmountError,
    InvalidCommandError,
    InvalidDateError,
    InvoiceNotFoundError,
    PromiseNotFoundError,
    PromiseStateError,
)
from arledger.domain.events import (
    ActionChannel,
    CollectionActionRecorded,
    ContactRole,
    CreditNoteApplied,
    CreditNoteRegistered,
    DelinquencyType,
    DisputeOutcome,
    DisputeReason,
    DisputeResolved,
    Event,
    PaymentTermsKind,
    PromiseMade,
    PromiseSuperseded,
    RiskRating,
)
from arledger.domain.policy import EscalationPolicy
from arledger.projections.promises import PromiseStatus, judge_all
from tests.conftest import FixedClock


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Ledger]:
    if request.param == "memory":
        env = {"ARLEDGER_STORE": "memory"}
    else:
        env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    yield Ledger(env=env, clock=clock)


def seed(ledger: Ledger) -> None:
    """ACME on net 30 with two invoices (1,200.00 and 800.00) and 500.00 paid on the first."""
    ledger.open_account(
        "ACME", name="Acme Ltd", currency="USD", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    ledger.issue_invoice(
        "INV-1", customer_code="ACME", amount=usd("1200.00"), issued_on=date(2024, 1, 10)
    )
    ledger.issue_invoice(
        "INV-2", customer_code="ACME", amount=usd("800.00"), issued_on=date(2024, 2, 1)
    )
    ledger.receive_payment(
        "BANK-1", payer_code="ACME", amount=usd("500.00"), value_on=date(2024, 2, 20)
    )
    ledger.allocate_payment("BANK-1", {"INV-1": usd("500.00")})


def count(ledger: Ledger) -> int:
    return len(list(ledger.iter_events()))


def refused(ledger: Ledger, error: type[Exception], command: Callable[[], Any]) -> Exception:
    """Run a command that must be refused; check that it recorded nothing."""
    before = count(ledger)
    with pytest.raises(error) as caught:
        command()
    assert before == count(ledger)
    return caught.value


# Customer account ---------------------------------------------------------------------------


def test_a_credit_line_is_set_and_changed_with_its_approver(ledger: Ledger) -> None:
    seed(ledger)

    ledger.set_credit_line(
        customer_code="ACME",
        amount=usd("500000.00"),
        effective_on=date(2024, 1, 1),
        approver="cfo",
        reason="half the registered capital",
        registered_capital=usd("1000000.00"),
    )
    ledger.set_credit_line(
        customer_code="ACME",
        amount=usd("0.00"),
        effective_on=date(2024, 6, 1),
        approver="cfo",
        reason="cash only from June",
    )

    assert 0 == ledger.customer("ACME").credit_line_minor
    history = ledger.portfolio().customers[ledger.customer("ACME").id]
    assert 50_000_000 == history.credit_line_on(date(2024, 5, 31))
    assert 0 == history.credit_line_on(date(2024, 6, 1))


def test_a_negative_credit_line_is_refused_and_records_nothing(ledger: Ledger) -> None:
    seed(ledger)

    refused(
        ledger,
        InvalidAmountError,
        lambda: ledger.set_credit_line(
            customer_code="ACME",
            amount=usd("-1.00"),
            effective_on=date(2024, 1, 1),
            approver="cfo",
            reason="typo",
        ),
    )


def test_a_credit_line_citing_a_negative_registered_capital_is_refused(ledger: Ledger) -> None:
    seed(ledger)

    refused(
        ledger,
        InvalidAmountError,
        lambda: ledger.set_credit_line(
            customer_code="ACME",
            amount=usd("100.00"),
            effective_on=date(2024, 1, 1),
            approver="cfo",
            reason="typo",
            registered_capital=usd("-1000000.00"),
        ),
    )


def test_a_credit_line_in_another_currency_is_refused(ledger: Ledger) -> None:
    seed(ledger)

    refused(
        ledger,
        CurrencyMismatchError,
        lambda: ledger.set_credit_line(
            customer_code="ACME",
            amount=Money.parse("100.00", "EUR"),
            effective_on=date(2024, 1, 1),
            approver="cfo",
            reason="wrong currency",
        ),
    )


def test_the_proposed_line_follows_the_policy_in_force_on_the_date(ledger: Ledger) -> None:
    capital = usd("1000000.00")
    ledger.adopt_policy(
        policy=EscalationPolicy(version=2, credit_line_capital_ratio_bps=3000),
        effective_on=date(2024, 7, 1),
        approver="cfo",
        reason="more prudent lines",
    )

    assert usd("500000.00") == ledger.propose_credit_line(capital, date(2024, 6, 30))
    assert usd("300000.00") == ledger.propose_credit_line(capital, date(2024, 7, 1))


def test_rating_blacklisting_and_clearing_are_kept_with_their_dates(ledger: Ledger) -> None:
    seed(ledger)

    ledger.rate_risk(
        customer_code="ACME", rating=RiskRating.D, rated_on=date(2024, 3, 1), reason="late"
    )
    ledger.blacklist(customer_code="ACME", blacklisted_on=date(2024, 3, 2), reason="bounced")
    ledger.clear_blacklist(customer_code="ACME", cleared_on=date(2024, 5, 1), reason="settled")

    account = ledger.customer("ACME")
    assert RiskRating.D == account.risk_rating
    assert not account.is_blacklisted
    history = ledger.portfolio().customers[account.id]
    assert history.is_blacklisted_on(date(2024, 4, 30))
    assert not history.is_blacklisted_on(date(2024, 5, 1))


def test_blacklist_errors_record_nothing(ledger: Ledger) -> None:
    seed(ledger)

    refused(
        ledger,
        CustomerStateError,
        lambda: ledger.clear_blacklist(
            customer_code="ACME", cleared_on=date(2024, 3, 1), reason="x"
        ),
    )
    ledger.blacklist(customer_code="ACME", blacklisted_on=date(2024, 3, 2), reason="bounced")
    refused(
        ledger,
        CustomerStateError,
        lambda: ledger.blacklist(
            customer_code="ACME", blacklisted_on=date(2024, 3, 3), reason="again"
        ),
    )


def test_a_later_invoice_is_due_by_the_new_terms(ledger: Ledger) -> None:
    seed(ledger)

    ledger.change_terms(
        customer_code="ACME",
        terms_kind=PaymentTermsKind.NET,
        terms_days=60,
        changed_on=date(2024, 3, 1),
    )
    ledger.issue_invoice(
        "INV-3", customer_code="ACME", amount=usd("10.00"), issued_on=date(2024, 3, 1)
    )
    ledger.change_terms(
        customer_code="ACME",
        terms_kind=PaymentTermsKind.CASH_ON_DELIVERY,
        terms_days=60,
        changed_on=date(2024, 4, 1),
    )
    ledger.issue_invoice(
        "INV-4", customer_code="ACME", amount=usd("10.00"), issued_on=date(2024, 4, 2)
    )

    assert date(2024, 2, 9) == ledger.invoice("INV-1").due_on
    assert date(2024, 4, 30) == ledger.invoice("INV-3").due_on
    assert date(2024, 4, 2) == ledger.invoice("INV-4").due_on
    assert 0 == ledger.customer("ACME").terms_days


def test_the_payment_calendar_gives_each_invoice_its_expected_pay_date(ledger: Ledger) -> None:
    seed(ledger)

    ledger.set_payment_calendar(
        customer_code="ACME",
        book_closing_day=25,
        payment_run_days=[10, 31],
        set_on=date(2024, 1, 1),
    )
    ledger.issue_invoice(
        "INV-3",
        customer_code="ACME",
        amount=usd("10.00"),
        issued_on=date(2024, 3, 26),
        due_on=date(2024, 3, 26),
    )
    ledger.issue_invoice(
        "INV-4",
        customer_code="ACME",
        amount=usd("10.00"),
        issued_on=date(2024, 4, 1),
        due_on=date(2024, 4, 15),
    )

    # INV-1 due 9 Feb: the run on the 10th. INV-2 due 2 March: the run on 10 March. INV-3
    # arrived after the closing day, booked 1 April: the run on 10 April.
    assert date(2024, 2, 10) == ledger.expected_pay_on("INV-1")
    assert date(2024, 3, 10) == ledger.expected_pay_on("INV-2")
    assert date(2024, 4, 10) == ledger.expected_pay_on("INV-3")
    # INV-4 due 15 April: the run on the 31st is on the 30th in April.
    assert date(2024, 4, 30) == ledger.expected_pay_on("INV-4")


def last_stamp(ledger: Ledger) -> datetime:
    """The instant of the last event recorded: a known-at cut just after it."""
    return max(event.timestamp for event in ledger.iter_events())


def test_a_later_calendar_does_not_rewrite_the_expected_pay_date_of_invoices_due_before(
    ledger: Ledger,
) -> None:
    """Calendars are dated history: the one in force on an invoice's due date decides. A
    change set in December moves the invoices due from December on, not one due in May
    (05-25 under the May calendar; the December one would have made it 05-05)."""
    ledger.open_account(
        "ACME", name="Acme Ltd", currency="USD", collection_owner="li", opened_on=date(2025, 1, 1)
    )
    ledger.issue_invoice(
        "INV-MAY",
        customer_code="ACME",
        amount=usd("100.00"),
        issued_on=date(2025, 4, 1),
        due_on=date(2025, 5, 1),
    )
    no_calendar_yet = last_stamp(ledger)
    ledger.set_payment_calendar(
        customer_code="ACME", book_closing_day=None, payment_run_days=[25], set_on=date(2025, 1, 1)
    )
    may_calendar = last_stamp(ledger)
    ledger.set_payment_calendar(
        customer_code="ACME", book_closing_day=None, payment_run_days=[5], set_on=date(2025, 12, 1)
    )
    ledger.issue_invoice(
        "INV-DEC",
        customer_code="ACME",
        amount=usd("100.00"),
        issued_on=date(2025, 11, 1),
        due_on=date(2025, 12, 2),
    )

    assert date(2025, 5, 25) == ledger.expected_pay_on("INV-MAY")
    assert date(2025, 12, 5) == ledger.expected_pay_on("INV-DEC")  # the December calendar
    # As known before any calendar: the due date; before the December change: the same 05-25.
    assert date(2025, 5, 1) == ledger.expected_pay_on("INV-MAY", known_at=no_calendar_yet)
    assert date(2025, 5, 25) == ledger.expected_pay_on("INV-MAY", known_at=may_calendar)
    with pytest.raises(InvoiceNotFoundError, match="recorded by"):
        ledger.expected_pay_on("INV-DEC", known_at=may_calendar)


def test_a_calendar_set_on_the_due_date_applies_to_that_invoice(ledger: Ledger) -> None:
    """In force on the due date: set on that very day counts (the later-recorded entry wins
    among calendars set on the same day)."""
    ledger.open_account(
        "ACME", name="Acme Ltd", currency="USD", collection_owner="li", opened_on=date(2025, 1, 1)
    )
    ledger.issue_invoice(
        "INV-1",
        customer_code="ACME",
        amount=usd("100.00"),
        issued_on=date(2025, 2, 1),
        due_on=date(2025, 3, 3),
    )
    for run_day in (10, 20):
        ledger.set_payment_calendar(
            customer_code="ACME",
            book_closing_day=None,
            payment_run_days=[run_day],
            set_on=date(2025, 3, 3),
        )
    ledger.set_payment_calendar(
        customer_code="ACME", book_closing_day=None, payment_run_days=[4], set_on=date(2025, 3, 4)
    )

    assert date(2025, 3, 20) == ledger.expected_pay_on("INV-1")


def test_bad_calendar_days_are_refused_and_record_nothing(ledger: Ledger) -> None:
    seed(ledger)

    refused(
        ledger,
        InvalidCommandError,
        lambda: ledger.set_payment_calendar(
            customer_code="ACME",
            book_closing_day=None,
            payment_run_days=[25, 10],
            set_on=date(2024, 1, 1),
        ),
    )


def test_owner_change_and_key_contacts_are_recorded(ledger: Ledger) -> None:
    seed(ledger)
    before = count(ledger)

    ledger.change_owner(customer_code="ACME", collection_owner="li", changed_on=date(2024, 3, 1))
    assert before == count(ledger)  # the same owner is a no-op
    ledger.change_owner(customer_code="ACME", collection_owner="wang", changed_on=date(2024, 3, 1))
    for role, name in [
        (ContactRole.ACCEPTOR, "Mr Wu"),
        (ContactRole.PAYMENT_RESPONSIBLE, "Ms Zhao"),
        (ContactRole.PAYMENT_APPROVER, "Mr Qian"),
    ]:
        ledger.set_key_contact(
            customer_code="ACME", role=role, name=name, set_on=date(2024, 3, 1), phone="555"
        )

    account = ledger.customer("ACME")
    assert "wang" == account.collection_owner
    assert {
        ContactRole.ACCEPTOR: ("Mr Wu", "555", ""),
        ContactRole.PAYMENT_RESPONSIBLE: ("Ms Zhao", "555", ""),
        ContactRole.PAYMENT_APPROVER: ("Mr Qian", "555", ""),
    } == account.contacts
    assert before + 4 == count(ledger)


def test_supply_is_held_and_released_and_the_errors_record_nothing(ledger: Ledger) -> None:
    seed(ledger)

    refused(
        ledger,
        CustomerStateError,
        lambda: ledger.release_supply(
            customer_code="ACME", released_on=date(2024, 3, 1), reason="x"
        ),
    )
    ledger.hold_supply(
        customer_code="ACME", held_on=date(2024, 3, 1), reason="level 3", by_policy=True
    )
    refused(
        ledger,
        CustomerStateError,
        lambda: ledger.hold_supply(customer_code="ACME", held_on=date(2024, 3, 2), reason="x"),
    )
    ledger.release_supply(customer_code="ACME", released_on=date(2024, 4, 1), reason="paid")

    history = ledger.portfolio().customers[ledger.customer("ACME").id]
    assert history.is_supply_held_on(date(2024, 3, 31))
    assert not history.is_supply_held_on(date(2024, 4, 1))


# Balance confirmation -----------------------------------------------------------------------


def test_a_confirmation_carries_the_ageing_balance_as_of_its_date_and_keeps_the_difference(
    ledger: Ledger,
) -> None:
    seed(ledger)

    # On 15 February INV-1 (1,200.00) and INV-2 (800.00) are open; the 500.00 came later.
    ledger.send_balance_confirmation(
        customer_code="ACME",
        confirmation_reference="BC-1",
        balance_as_of=date(2024, 2, 15),
        sent_on=date(2024, 2, 16),
    )
    ledger.acknowledge_balance_confirmation(
        customer_code="ACME",
        confirmation_reference="BC-1",
        confirmed_balance=usd("1950.00"),
        acknowledged_on=date(2024, 2, 28),
    )

    (confirmation,) = ledger.portfolio().customers[ledger.customer("ACME").id].confirmations
    assert 200_000 == confirmation.ledger_balance_minor
    assert 195_000 == confirmation.confirmed_balance_minor
    assert -5_000 == confirmation.difference_minor


def test_a_confirmation_after_the_payment_shows_the_lower_balance(ledger: Ledger) -> None:
    seed(ledger)

    ledger.send_balance_confirmation(
        customer_code="ACME",
        confirmation_reference="BC-2",
        balance_as_of=date(2024, 2, 29),
        sent_on=date(2024, 3, 1),
    )
    ledger.acknowledge_balance_confirmation(
        customer_code="ACME",
        confirmation_reference="BC-2",
        confirmed_balance=usd("1600.00"),
        acknowledged_on=date(2024, 3, 5),
    )

    (confirmation,) = ledger.portfolio().customers[ledger.customer("ACME").id].confirmations
    assert 150_000 == confirmation.ledger_balance_minor
    assert 10_000 == confirmation.difference_minor


def test_acknowledging_an_unknown_or_acknowledged_confirmation_records_nothing(
    ledger: Ledger,
) -> None:
    seed(ledger)

    def acknowledge(reference: str) -> Any:
        return ledger.acknowledge_balance_confirmation(
            customer_code="ACME",
            confirmation_reference=reference,
            confirmed_balance=usd("1.00"),
            acknowledged_on=date(2024, 3, 5),
        )

    error = refused(ledger, ConfirmationNotFoundError, lambda: acknowledge("BC-404"))
    assert isinstance(error, LookupError)
    ledger.send_balance_confirmation(
        customer_code="ACME",
        confirmation_reference="BC-1",
        balance_as_of=date(2024, 2, 29),
        sent_on=date(2024, 3, 1),
    )
    acknowledge("BC-1")
    refused(ledger, CustomerStateError, lambda: acknowledge("BC-1"))


# Disputes -----------------------------------------------------------------------------------


def open_dispute(ledger: Ledger, amount: str = "300.00", reference: str = "D-1") -> list[Event]:
    result: list[Event] = ledger.open_dispute(
        invoice_number="INV-1",
        dispute_reference=reference,
        amount=usd(amount),
        reason_code=DisputeReason.QUALITY,
        root_cause="scratched panels",
        opened_on=date(2024, 2, 25),
    )
    return result


def test_an_upheld_dispute_and_its_credit_note_are_saved_together(ledger: Ledger) -> None:
    seed(ledger)
    open_dispute(ledger)
    before = count(ledger)

    events = ledger.resolve_dispute(
        invoice_number="INV-1",
        dispute_reference="D-1",
        outcome=DisputeOutcome.UPHELD,
        resolved_on=date(2024, 3, 5),
        note="inspection confirmed",
        upheld=usd("100.00"),
        approver="cfo",
    )

    assert [DisputeResolved, CreditNoteApplied, CreditNoteRegistered] == [
        type(event) for event in events
    ]
    stored = list(ledger.iter_events())[before:]
    assert events == stored
    assert 1 == len({event.timestamp for event in stored})
    assert 60_000 == ledger.invoice("INV-1").open_minor


def test_a_rejected_dispute_returns_the_amount_to_collection(ledger: Ledger) -> None:
    seed(ledger)
    open_dispute(ledger)

    events = ledger.resolve_dispute(
        invoice_number="INV-1",
        dispute_reference="D-1",
        outcome=DisputeOutcome.REJECTED,
        resolved_on=date(2024, 3, 5),
        note="no defect found",
        approver="cfo",
    )

    assert [DisputeResolved] == [type(event) for event in events]
    invoice = ledger.invoice("INV-1")
    assert 70_000 == invoice.open_minor
    assert 0 == invoice.disputed_minor
    state = ledger.portfolio()
    assert 30_000 == state.disputed_minor_on(invoice.id, date(2024, 3, 4))
    assert 0 == state.disputed_minor_on(invoice.id, date(2024, 3, 5))


def test_dispute_errors_record_nothing(ledger: Ledger) -> None:
    seed(ledger)

    error = refused(ledger, DisputedAmountError, lambda: open_dispute(ledger, "700.01"))
    assert 70_001 == error.amount_minor  # type: ignore[attr-defined]
    open_dispute(ledger)
    open_dispute(ledger)  # the same dispute again: a no-op
    refused(ledger, DuplicateKeyConflictError, lambda: open_dispute(ledger, "200.00"))

    def resolve(reference: str, upheld: str | None = None) -> Any:
        return ledger.resolve_dispute(
            invoice_number="INV-1",
            dispute_reference=reference,
            outcome=DisputeOutcome.UPHELD,
            resolved_on=date(2024, 3, 5),
            note="ok",
            upheld=None if upheld is None else usd(upheld),
            approver="cfo",
        )

    refused(ledger, DisputeNotFoundError, lambda: resolve("D-404"))
    refused(ledger, DisputedAmountError, lambda: resolve("D-1", "300.01"))
    resolve("D-1")
    refused(ledger, DisputeStateError, lambda: resolve("D-1"))
    assert 40_000 == ledger.invoice("INV-1").open_minor


# Promises -----------------------------------------------------------------------------------


def make_promise(ledger: Ledger, reference: str, **fields: Any) -> list[Event]:
    command: dict[str, Any] = {
        "customer_code": "ACME",
        "promise_reference": reference,
        "amount": usd("700.00"),
        "promised_on": date(2024, 3, 10),
        "made_on": date(2024, 3, 1),
        "contact": "Mr Wu",
    }
    command.update(fields)
    result: list[Event] = ledger.make_promise(**command)
    return result


def statuses(ledger: Ledger, as_of: date) -> dict[str, PromiseStatus]:
    return {j.reference: j.status for j in judge_all(ledger.portfolio(), as_of)}


def test_a_superseding_promise_is_saved_with_the_old_ones_supersession(ledger: Ledger) -> None:
    seed(ledger)
    make_promise(ledger, "P-1")

    events = make_promise(
        ledger, "P-2", made_on=date(2024, 3, 5), promised_on=date(2024, 3, 31), supersedes="P-1"
    )

    assert [PromiseSuperseded, PromiseMade] == [type(event) for event in events]
    assert {"P-1": PromiseStatus.SUPERSEDED, "P-2": PromiseStatus.OPEN} == statuses(
        ledger, date(2024, 3, 20)
    )


def test_a_promise_naming_invoices_is_judged_on_payments_to_them(ledger: Ledger) -> None:
    seed(ledger)
    make_promise(ledger, "P-1", invoice_numbers=["INV-2"])
    make_promise(ledger, "P-2", invoice_numbers=["INV-1"])
    ledger.receive_payment(
        "BANK-2", payer_code="ACME", amount=usd("700.00"), value_on=date(2024, 3, 8)
    )
    ledger.allocate_payment("BANK-2", {"INV-1": usd("700.00")})

    assert {"P-1": PromiseStatus.BROKEN, "P-2": PromiseStatus.KEPT} == statuses(
        ledger, date(2024, 3, 31)
    )


def test_a_bounced_payment_no_longer_keeps_the_promise(ledger: Ledger) -> None:
    seed(ledger)
    make_promise(ledger, "P-1")
    ledger.receive_payment(
        "BANK-2", payer_code="ACME", amount=usd("700.00"), value_on=date(2024, 3, 8)
    )
    ledger.allocate_payment("BANK-2")

    ledger.reverse_payment("BANK-2", reversed_on=date(2024, 3, 20), reason="bounced")

    assert {"P-1": PromiseStatus.KEPT} == statuses(ledger, date(2024, 3, 19))
    assert {"P-1": PromiseStatus.BROKEN} == statuses(ledger, date(2024, 3, 20))


def test_the_tolerance_is_that_of_the_policy_adopted_for_the_promised_date(
    ledger: Ledger,
) -> None:
    seed(ledger)
    make_promise(ledger, "P-1")
    ledger.receive_payment(
        "BANK-2", payer_code="ACME", amount=usd("700.00"), value_on=date(2024, 3, 12)
    )
    assert {"P-1": PromiseStatus.KEPT} == statuses(ledger, date(2024, 3, 31))

    ledger.adopt_policy(
        policy=EscalationPolicy(version=2, promise_tolerance_days=0),
        effective_on=date(2024, 3, 1),
        approver="cfo",
        reason="no more slack",
    )

    assert {"P-1": PromiseStatus.BROKEN} == statuses(ledger, date(2024, 3, 31))


def test_promise_errors_record_nothing(ledger: Ledger) -> None:
    seed(ledger)

    refused(
        ledger,
        InvalidDateError,
        lambda: make_promise(ledger, "P-1", promised_on=date(2024, 2, 29)),
    )
    refused(
        ledger,
        CurrencyMismatchError,
        lambda: make_promise(ledger, "P-1", amount=Money.parse("700.00", "EUR")),
    )
    refused(ledger, PromiseNotFoundError, lambda: make_promise(ledger, "P-1", supersedes="P-0"))
    make_promise(ledger, "P-1")
    ledger.withdraw_promise(
        promise_reference="P-1", withdrawn_on=date(2024, 3, 2), reason="retracted"
    )
    refused(
        ledger,
        PromiseStateError,
        lambda: ledger.withdraw_promise(
            promise_reference="P-1", withdrawn_on=date(2024, 3, 3), reason="again"
        ),
    )
    refused(ledger, PromiseStateError, lambda: make_promise(ledger, "P-2", supersedes="P-1"))
    assert {"P-1": PromiseStatus.WITHDRAWN} == statuses(ledger, date(2024, 3, 31))


# Actions and diagnosis ----------------------------------------------------------------------


def test_actions_and_a_diagnosis_build_the_case(ledger: Ledger) -> None:
    seed(ledger)

    for channel in ActionChannel:
        ledger.record_action(
            customer_code="ACME",
            channel=channel,
            taken_on=date(2024, 3, 1),
            collector="li",
            contact="Mr Wu",
            outcome="no answer",
        )
    ledger.record_action(
        customer_code="ACME",
        channel=ActionChannel.VISIT,
        taken_on=date(2024, 3, 2),
        collector="li",
        contact="Mr Wu",
        outcome="promised a plan",
        next_step="collect the plan",
        next_step_on=date(2024, 3, 9),
    )
    ledger.diagnose(
        customer_code="ACME",
        delinquency_type=DelinquencyType.CASH_FLOW_SQUEEZE,
        diagnosed_on=date(2024, 3, 2),
        note="their customers pay late",
    )

    state = ledger.portfolio()
    customer_id = ledger.customer("ACME").id
    assert 10 == len(state.actions[customer_id])
    assert "collect the plan" == state.actions[customer_id][-1].next_step
    assert DelinquencyType.CASH_FLOW_SQUEEZE == state.diagnoses[customer_id][0].delinquency_type
    assert 10 == sum(isinstance(e, CollectionActionRecorded) for e in ledger.iter_events())


def test_action_errors_record_nothing(ledger: Ledger) -> None:
    seed(ledger)

    def act(**fields: Any) -> Any:
        return ledger.record_action(
            customer_code="ACME",
            channel=ActionChannel.PHONE,
            taken_on=date(2024, 3, 2),
            collector="li",
            contact="Mr Wu",
            outcome="no answer",
            **fields,
        )

    refused(ledger, InvalidDateError, lambda: act(next_step="call", next_step_on=date(2024, 3, 1)))
    refused(ledger, InvalidCommandError, lambda: act(next_step_on=date(2024, 3, 9)))


# Policy book --------------------------------------------------------------------------------


def test_policy_versions_are_adopted_once_and_must_rise(ledger: Ledger) -> None:
    def adopt(version: int, effective_on: date, large_above_major: int = 100_000) -> Any:
        return ledger.adopt_policy(
            policy=EscalationPolicy(version=version, large_above_major=large_above_major),
            effective_on=effective_on,
            approver="cfo",
            reason="review",
        )

    refused(ledger, ConfigurationError, lambda: adopt(1, date(2024, 1, 1)))
    adopt(2, date(2024, 7, 1), 50_000)
    assert [] == adopt(2, date(2024, 7, 1), 50_000)
    refused(ledger, DuplicateKeyConflictError, lambda: adopt(2, date(2024, 7, 1), 60_000))
    adopt(4, date(2024, 9, 1), 80_000)
    refused(ledger, ConfigurationError, lambda: adopt(3, date(2024, 8, 1)))

    state = ledger.portfolio()
    assert 100_000 == state.policy_on(date(2024, 6, 30)).large_above_major
    assert 50_000 == state.policy_on(date(2024, 7, 1)).large_above_major
    assert 80_000 == state.policy_on(date(2024, 9, 1)).large_above_major
