"""The Ledger suite, run against each store: in-memory, SQLite file and PostgreSQL.

The ``store_env`` fixture (tests/conftest.py) parametrises every test over the three stores;
under CI=true the PostgreSQL case fails, not skips, when the server is missing.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from arledger import (
    AgeingGrouping,
    ConcurrencyError,
    DuplicateKeyConflictError,
    Ledger,
    Money,
    OverAllocationError,
)
from arledger.adapters.application.ledger import Session
from arledger.domain.errors import CurrencyMismatchError, InvoiceNotFoundError
from arledger.domain.events import (
    CreditNoteApplied,
    PaymentAllocated,
    PaymentApplied,
)
from arledger.domain.invoice import apply_credit_note
from arledger.projections import ageing
from tests.conftest import FixedClock


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def seed(ledger: Ledger) -> None:
    """Two customers, three invoices, one payment allocated oldest-due-first."""
    ledger.open_account(
        "ACME", name="Acme Ltd", currency="USD", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    ledger.open_account(
        "BETA", name="Beta plc", currency="USD", collection_owner="wang", opened_on=date(2024, 1, 1)
    )
    ledger.issue_invoice(
        "INV-1", customer_code="ACME", amount=usd("100.00"), issued_on=date(2024, 1, 1)
    )
    ledger.issue_invoice(
        "INV-2", customer_code="ACME", amount=usd("50.00"), issued_on=date(2024, 2, 1)
    )
    ledger.issue_invoice(
        "INV-3", customer_code="BETA", amount=usd("70.00"), issued_on=date(2024, 1, 15)
    )
    ledger.receive_payment(
        "BANK-1", payer_code="ACME", amount=usd("120.00"), value_on=date(2024, 3, 1)
    )
    ledger.allocate_payment("BANK-1")


@pytest.fixture
def ledger(store_env: dict[str, str], clock: FixedClock) -> Ledger:
    return Ledger(env=store_env, clock=clock)


def test_automatic_allocation_settles_oldest_due_first_and_keeps_no_remainder(
    ledger: Ledger,
) -> None:
    seed(ledger)

    assert 0 == ledger.invoice("INV-1").open_minor
    assert 3000 == ledger.invoice("INV-2").open_minor
    assert 7000 == ledger.invoice("INV-3").open_minor
    assert 0 == ledger.payment("BANK-1").unapplied_minor


def test_partial_explicit_allocation_keeps_the_remainder_on_account(ledger: Ledger) -> None:
    seed(ledger)
    ledger.receive_payment(
        "BANK-2", payer_code="ACME", amount=usd("40.00"), value_on=date(2024, 3, 2)
    )

    ledger.allocate_payment("BANK-2", {"INV-2": usd("10.00")})

    assert 2000 == ledger.invoice("INV-2").open_minor
    assert 3000 == ledger.payment("BANK-2").unapplied_minor


def test_ageing_is_the_same_whatever_the_store(ledger: Ledger) -> None:
    seed(ledger)

    # INV-2 due 2024-03-02 is 13 days past due; INV-3 due 2024-02-14 is 30 (a leap February).
    report = ledger.ageing(date(2024, 3, 15), grouping=AgeingGrouping.CUSTOMER)

    assert [("ACME", "USD", (0, 3000, 0, 0, 0, 0)), ("BETA", "USD", (0, 7000, 0, 0, 0, 0))] == [
        (row.key, row.currency, row.buckets_minor) for row in report.rows
    ]


def test_reversal_reopens_what_the_payment_settled(ledger: Ledger) -> None:
    seed(ledger)

    ledger.reverse_payment("BANK-1", reversed_on=date(2024, 3, 10), reason="bounced")

    assert 10000 == ledger.invoice("INV-1").open_minor
    assert 5000 == ledger.invoice("INV-2").open_minor
    assert ledger.payment("BANK-1").is_reversed
    before = ledger.ageing(date(2024, 3, 5)).rows[0].open_minor
    after = ledger.ageing(date(2024, 3, 10)).rows[0].open_minor
    assert (10000, 22000) == (before, after)


def test_refused_commands_record_nothing(ledger: Ledger) -> None:
    seed(ledger)
    count = len(list(ledger.iter_events()))

    with pytest.raises(OverAllocationError) as error:
        ledger.allocate_payment("BANK-1", {"INV-2": usd("1.00")})
    with pytest.raises(InvoiceNotFoundError):
        ledger.apply_credit_note(
            "NO-SUCH",
            credit_note_number="CN-1",
            amount=usd("1.00"),
            applied_on=date(2024, 3, 1),
            reason="x",
            approver="cfo",
        )
    with pytest.raises(CurrencyMismatchError):
        ledger.apply_credit_note(
            "INV-2",
            credit_note_number="CN-1",
            amount=Money.parse("1.00", "EUR"),
            applied_on=date(2024, 3, 1),
            reason="x",
            approver="cfo",
        )

    assert 0 == error.value.unapplied_minor
    assert count == len(list(ledger.iter_events()))


def test_issuing_the_same_invoice_again_is_a_no_op_and_different_content_an_error(
    ledger: Ledger,
) -> None:
    seed(ledger)
    count = len(list(ledger.iter_events()))

    ledger.issue_invoice(
        "INV-1", customer_code="ACME", amount=usd("100.00"), issued_on=date(2024, 1, 1)
    )
    with pytest.raises(DuplicateKeyConflictError) as error:
        ledger.issue_invoice(
            "INV-1", customer_code="ACME", amount=usd("100.01"), issued_on=date(2024, 1, 1)
        )

    assert "INV-1" == error.value.invoice_number
    assert count == len(list(ledger.iter_events()))


def test_a_second_ledger_on_the_same_store_sees_the_same_state(
    persistent_store_env: dict[str, str], clock: FixedClock
) -> None:
    first = Ledger(env=persistent_store_env, clock=clock)
    seed(first)

    second = Ledger(env=persistent_store_env, clock=clock)

    assert first.invoice("INV-2") == second.invoice("INV-2")
    assert first.payment("BANK-1") == second.payment("BANK-1")
    assert list(first.iter_events()) == list(second.iter_events(page_size=2))


def test_allocation_saves_payment_and_invoices_in_one_transaction(ledger: Ledger) -> None:
    seed(ledger)
    ledger.receive_payment(
        "BANK-2", payer_code="ACME", amount=usd("30.00"), value_on=date(2024, 3, 2)
    )
    stale = ledger.session()
    stale.allocate_payment(bank_reference="BANK-2")  # plans against INV-2 as it is now
    # Another writer changes INV-2 before the stale session commits.
    ledger.apply_credit_note(
        "INV-2",
        credit_note_number="CN-9",
        amount=usd("5.00"),
        applied_on=date(2024, 3, 2),
        reason="damaged",
        approver="cfo",
    )

    with pytest.raises(Exception) as error:
        stale.commit()

    assert "IntegrityError" in type(error.value).__name__
    # Neither side of the allocation was stored: the payment is still wholly unapplied.
    assert 3000 == ledger.payment("BANK-2").unapplied_minor
    assert 2500 == ledger.invoice("INV-2").open_minor
    stored_types = {type(event) for event in ledger.iter_events()}
    assert CreditNoteApplied in stored_types
    payment_id = ledger.payment("BANK-2").id
    assert not [
        e
        for e in ledger.iter_events()
        if isinstance(e, PaymentAllocated) and e.originator_id == payment_id
    ]


def test_a_version_conflict_is_retried_from_fresh_state(
    ledger: Ledger, store_env: dict[str, str], clock: FixedClock
) -> None:
    seed(ledger)
    ledger.receive_payment(
        "BANK-2", payer_code="ACME", amount=usd("30.00"), value_on=date(2024, 3, 2)
    )
    rival = (
        ledger if store_env["ARLEDGER_STORE"] == "memory" else Ledger(env=store_env, clock=clock)
    )
    attempts = []

    def allocate(session: Session) -> None:
        attempts.append(len(attempts) + 1)
        session.allocate_payment(bank_reference="BANK-2")
        if len(attempts) == 1:
            rival.apply_credit_note(
                "INV-2",
                credit_note_number="CN-9",
                amount=usd("5.00"),
                applied_on=date(2024, 3, 2),
                reason="damaged",
                approver="cfo",
            )

    ledger.run(allocate)

    assert [1, 2] == attempts
    assert 0 == ledger.invoice("INV-2").open_minor
    assert 500 == ledger.payment("BANK-2").unapplied_minor


def test_retries_are_bounded_then_a_concurrency_error_is_raised(ledger: Ledger) -> None:
    seed(ledger)
    ledger.receive_payment(
        "BANK-2", payer_code="ACME", amount=usd("30.00"), value_on=date(2024, 3, 2)
    )
    notes = iter(range(100))

    def allocate_while_someone_keeps_crediting(session: Session) -> None:
        session.allocate_payment(bank_reference="BANK-2", allocations={"INV-2": usd("1.00")})
        ledger.apply_credit_note(
            "INV-2",
            credit_note_number=f"CN-{next(notes)}",
            amount=usd("1.00"),
            applied_on=date(2024, 3, 2),
            reason="rebate",
            approver="cfo",
        )

    with pytest.raises(ConcurrencyError) as error:
        ledger.run(allocate_while_someone_keeps_crediting)

    assert ledger.retries_max == error.value.attempts
    assert 3000 == ledger.payment("BANK-2").unapplied_minor


def test_known_at_shows_the_ledger_as_it_was_recorded_then(ledger: Ledger) -> None:
    seed(ledger)
    first_applied = next(e for e in ledger.iter_events() if isinstance(e, PaymentApplied))
    known_at = first_applied.timestamp - timedelta(microseconds=1)

    then = ledger.ageing(date(2024, 3, 15), known_at=known_at)
    now = ledger.ageing(date(2024, 3, 15))

    assert first_applied.timestamp.tzinfo is not None
    assert 22000 == then.rows[0].open_minor
    assert 10000 == now.rows[0].open_minor


def test_replaying_the_stored_log_gives_the_same_ageing(ledger: Ledger) -> None:
    seed(ledger)
    events = list(ledger.iter_events())

    replayed = ageing.ageing_report(
        ageing.fold_all(events), date(2024, 4, 30), grouping=AgeingGrouping.INVOICE
    )

    assert replayed == ledger.ageing(date(2024, 4, 30), grouping=AgeingGrouping.INVOICE)


def test_rival_credit_note_decided_on_a_stale_state_is_refused_by_the_store(
    ledger: Ledger,
) -> None:
    seed(ledger)
    stale_invoice = ledger.invoice("INV-3")
    ledger.apply_credit_note(
        "INV-3",
        credit_note_number="CN-1",
        amount=usd("1.00"),
        applied_on=date(2024, 3, 1),
        reason="rebate",
        approver="cfo",
    )
    late = apply_credit_note(
        stale_invoice,
        ledger.customer("BETA"),
        None,
        credit_note_number="CN-2",
        amount_minor=100,
        currency="USD",
        applied_on=date(2024, 3, 1),
        reason="rebate",
        recorded_at=ledger.clock(),
        approver="cfo",
    )

    with pytest.raises(Exception) as error:
        ledger.save(*late)

    assert "IntegrityError" in type(error.value).__name__
    assert 6900 == ledger.invoice("INV-3").open_minor
