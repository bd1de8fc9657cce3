"""One customer's promise and collection-case queries: named results, as of a date."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from arledger import CaseReport, Ledger, Money, PromiseReport, PromiseStatus, to_data
from arledger.domain.errors import CustomerNotFoundError, InvalidDateError
from arledger.domain.events import ActionChannel, DelinquencyType


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    """A replayed in-memory ledger, and a SQLite one answering from its stored read models."""
    env = {"ARLEDGER_STORE": request.param, "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = Ledger(env=env)
    request.addfinalizer(ledger.close)
    ledger.open_account(
        "ACME",
        name="Acme Ltd",
        currency="USD",
        collection_owner="li",
        opened_on=date(2025, 1, 1),
        terms_days=30,
    )
    ledger.issue_invoice(
        "INV-1", customer_code="ACME", amount=usd("1000.00"), issued_on=date(2025, 1, 1)
    )
    ledger.make_promise(
        customer_code="ACME",
        promise_reference="P-1",
        amount=usd("400.00"),
        promised_on=date(2025, 2, 10),
        made_on=date(2025, 2, 3),
        contact="Mr Wu",
        invoice_numbers=["INV-1"],
    )
    ledger.record_action(
        customer_code="ACME",
        channel=ActionChannel.PHONE,
        taken_on=date(2025, 2, 3),
        collector="li",
        contact="Mr Wu",
        outcome="promised 400.00 by 10 February",
        next_step="check the bank",
        next_step_on=date(2025, 2, 11),
    )
    ledger.diagnose(
        customer_code="ACME",
        delinquency_type=DelinquencyType.CASH_FLOW_SQUEEZE,
        diagnosed_on=date(2025, 3, 1),
        note="waits for its own customers",
    )
    return ledger


def test_a_promise_not_paid_is_open_until_its_deadline_and_broken_after(ledger: Ledger) -> None:
    before = ledger.promises("ACME", date(2025, 2, 5))
    after = ledger.promises("ACME", date(2025, 3, 31))

    assert isinstance(after, PromiseReport)
    assert [("P-1", PromiseStatus.OPEN)] == [(p.reference, p.status) for p in before.promises]
    assert [("P-1", PromiseStatus.BROKEN)] == [(p.reference, p.status) for p in after.promises]
    assert (0, 1, 0, 40_000) == (
        after.rates.kept_count,
        after.rates.judged_count,
        after.rates.paid_minor,
        after.rates.promised_minor,
    )
    assert ("ACME", "USD", date(2025, 3, 31)) == (after.customer_code, after.currency, after.as_of)


def test_no_promise_is_listed_before_it_was_made(ledger: Ledger) -> None:
    assert () == ledger.promises("ACME", date(2025, 2, 2)).promises


def test_the_collection_case_lists_what_was_done_by_the_date(ledger: Ledger) -> None:
    early = ledger.collection_case("ACME", date(2025, 2, 3))
    late = ledger.collection_case("ACME", date(2025, 3, 1))

    assert isinstance(late, CaseReport)
    assert [ActionChannel.PHONE] == [action.channel for action in early.actions]
    assert () == early.diagnoses
    assert [DelinquencyType.CASH_FLOW_SQUEEZE] == [d.delinquency_type for d in late.diagnoses]
    assert "phone" == to_data(late)["actions"][0]["channel"]  # type: ignore[call-overload,index]


def test_an_unknown_customer_or_a_date_out_of_range_is_refused(ledger: Ledger) -> None:
    with pytest.raises(CustomerNotFoundError):
        ledger.promises("NOPE", date(2025, 2, 5))
    with pytest.raises(InvalidDateError):
        ledger.collection_case("ACME", date(1800, 1, 1))


def test_as_known_at_an_instant_only_what_was_recorded_by_then_counts(ledger: Ledger) -> None:
    # The account's transaction (the first one) was committed at this instant; in memory, where
    # no commit instant is kept, known_at cuts by stamp (the account's is the earliest).
    opened_at = ledger.kpis(date(2025, 1, 1), date(2025, 1, 31), at_position=1).as_of_log
    assert opened_at is not None
    if opened_at.committed_at is None:
        known_at = min(event.timestamp for event in ledger.iter_events())
    else:
        known_at = opened_at.committed_at
    as_of = date(2025, 3, 31)

    assert () == ledger.promises("ACME", as_of, known_at=known_at).promises
    assert () == ledger.collection_case("ACME", as_of, known_at=known_at).actions
    assert 1 == len(ledger.promises("ACME", as_of).promises)
