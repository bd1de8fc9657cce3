"""Text, dates and amounts through the ``Ledger`` (issue 9.11, 9.13, 9.14), on the in-memory and
SQLite stores: what the domain refuses is refused the same way by the API's commands and
queries, nothing is recorded, and the ledger's reports and export keep working."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import pytest

from arledger import EscalationPolicy, Ledger, Money
from arledger.adapters.application.ledger import QUERY_METHODS
from arledger.adapters.ingest.importer import ColumnMapping, import_file
from arledger.adapters.read_models import columnar
from arledger.domain.errors import ImportRowError, InvalidDateError, InvalidTextError
from arledger.domain.events import ActionChannel
from arledger.projections.letters import LetterKind
from tests.conftest import FixedClock

AS_OF = date(2024, 5, 31)


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Ledger]:
    if request.param == "memory":
        env = {"ARLEDGER_STORE": "memory"}
    else:
        env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = Ledger(env=env, clock=clock)
    ledger.open_account(
        "ACME",
        name="Acme Ltd",
        currency="USD",
        collection_owner="li",
        opened_on=date(2024, 1, 1),
        terms_days=30,
    )
    ledger.issue_invoice(
        "INV-1", customer_code="ACME", amount=usd("1200.00"), issued_on=date(2024, 1, 10)
    )
    ledger.receive_payment(
        "BANK-1", payer_code="ACME", amount=usd("500.00"), value_on=date(2024, 2, 20)
    )
    yield ledger
    ledger.close()


def event_count(ledger: Ledger) -> int:
    return sum(1 for _ in ledger.iter_events())


def every_report_works(ledger: Ledger, directory: Path) -> None:
    assert ledger.ageing(AS_OF).rows
    assert ledger.worklist(AS_OF)
    assert "ACME" in ledger.explain("ACME", AS_OF).text
    assert ledger.kpis(date(2024, 1, 1), AS_OF).rows
    columnar.write_parquet(ledger.iter_events(), directory)


# Text -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (
            lambda ledger: ledger.open_account(
                "BAD",
                name="Bad\ud800Name",
                currency="USD",
                collection_owner="li",
                opened_on=date(2024, 1, 1),
            ),
            "name",
        ),
        (
            lambda ledger: ledger.open_account(
                "C\udcffX",
                name="Bad",
                currency="USD",
                collection_owner="li",
                opened_on=date(2024, 1, 1),
            ),
            "customer_code",
        ),
        (
            lambda ledger: ledger.issue_invoice(
                "INV-1\u200b",
                customer_code="ACME",
                amount=usd("1.00"),
                issued_on=date(2024, 1, 10),
            ),
            "invoice_number",
        ),
        (
            lambda ledger: ledger.change_owner(
                customer_code="ACME", collection_owner="li\u200b", changed_on=date(2024, 2, 1)
            ),
            "collection_owner",
        ),
        (
            lambda ledger: ledger.record_action(
                customer_code="ACME",
                channel=ActionChannel.PHONE,
                taken_on=date(2024, 4, 1),
                collector="li",
                contact="Mr\tWu",
                outcome="no answer",
            ),
            "contact",
        ),
    ],
)
def test_text_that_cannot_be_printed_is_refused_and_every_report_still_works(
    ledger: Ledger, tmp_path: Path, command: Callable[[Ledger], Any], field: str
) -> None:
    before = event_count(ledger)

    with pytest.raises(InvalidTextError) as raised:
        command(ledger)

    assert field == raised.value.field
    assert before == event_count(ledger)
    every_report_works(ledger, tmp_path / "export")


@pytest.mark.parametrize(
    "query",
    [
        lambda ledger, key: ledger.customer(key),
        lambda ledger, key: ledger.invoice(key),
        lambda ledger, key: ledger.payment(key),
        lambda ledger, key: ledger.explain(key, AS_OF),
        lambda ledger, key: ledger.escalation_status(key, AS_OF),
        lambda ledger, key: ledger.check_credit(key, usd("1.00"), AS_OF),
        lambda ledger, key: ledger.balance_confirmations(key),
        lambda ledger, key: ledger.expected_pay_on(key),
        lambda ledger, key: ledger.worklist(AS_OF, owner=key),
        lambda ledger, key: ledger.allocate_payment(key),
        lambda ledger, key: ledger.allocate_payment("BANK-1", {key: usd("1.00")}),
        lambda ledger, key: ledger.withdraw_promise(
            promise_reference=key, withdrawn_on=AS_OF, reason="r"
        ),
    ],
)
@pytest.mark.parametrize("key", ["C\udcffX", "ACME\u200b", "AC\tME", "CAFE\u0301"])
def test_a_query_by_an_invalid_key_is_refused_as_the_commands_refuse_it(
    ledger: Ledger, query: Callable[[Ledger, str], Any], key: str
) -> None:
    before = event_count(ledger)

    with pytest.raises(InvalidTextError) as raised:
        query(ledger, key)

    assert raised.value.value.isprintable()
    assert before == event_count(ledger)


# Dates ------------------------------------------------------------------------------------------

OUTSIDE = [date(1, 1, 1), date(1899, 12, 31), date(2200, 1, 1), date(9999, 12, 31)]


@pytest.mark.parametrize(
    "query",
    [
        lambda ledger, on: ledger.ageing(on),
        lambda ledger, on: ledger.worklist(on),
        lambda ledger, on: ledger.explain("ACME", on),
        lambda ledger, on: ledger.escalation_status("ACME", on),
        lambda ledger, on: ledger.check_credit("ACME", usd("1.00"), on),
        lambda ledger, on: ledger.kpis(on, date(2024, 6, 30)),
        lambda ledger, on: ledger.kpis(date(2024, 1, 1), on),
        lambda ledger, on: ledger.propose_credit_line(usd("1000.00"), on),
    ],
)
@pytest.mark.parametrize("on", OUTSIDE)
def test_a_query_dated_outside_the_range_is_refused(
    ledger: Ledger, query: Callable[[Ledger, date], Any], on: date
) -> None:
    with pytest.raises(InvalidDateError) as raised:
        query(ledger, on)

    assert on == raised.value.value


KNOWN_AT_QUERIES: Final[dict[str, Callable[[Ledger, Any], Any]]] = {
    "ageing": lambda ledger, at: ledger.ageing(AS_OF, known_at=at),
    "ageing_in": lambda ledger, at: ledger.ageing_in("USD", AS_OF, known_at=at),
    "backtest": lambda ledger, at: ledger.backtest(
        EscalationPolicy(), "2024-01", "2024-05", known_at=at
    ),
    "cash_not_handed_over": lambda ledger, at: ledger.cash_not_handed_over(AS_OF, known_at=at),
    "balance_confirmations": lambda ledger, at: ledger.balance_confirmations("ACME", known_at=at),
    "check_credit": lambda ledger, at: ledger.check_credit("ACME", usd("1.00"), AS_OF, known_at=at),
    "collection_case": lambda ledger, at: ledger.collection_case("ACME", AS_OF, known_at=at),
    "collection_plan": lambda ledger, at: ledger.collection_plan(AS_OF.replace(day=1), known_at=at),
    "customer": lambda ledger, at: ledger.customer("ACME", known_at=at),
    "escalation_status": lambda ledger, at: ledger.escalation_status("ACME", AS_OF, known_at=at),
    "expected_pay_on": lambda ledger, at: ledger.expected_pay_on("INV-1", known_at=at),
    "exchange_rates": lambda ledger, at: ledger.exchange_rates(known_at=at),
    "explain": lambda ledger, at: ledger.explain("ACME", AS_OF, known_at=at),
    "goods_settlements": lambda ledger, at: ledger.goods_settlements("ACME", known_at=at),
    "invoice": lambda ledger, at: ledger.invoice("INV-1", known_at=at),
    "iter_events": lambda ledger, at: ledger.iter_events(known_at=at),
    "kpis": lambda ledger, at: ledger.kpis(date(2024, 1, 1), AS_OF, known_at=at),
    "kpis_in": lambda ledger, at: ledger.kpis_in("USD", date(2024, 1, 1), AS_OF, known_at=at),
    "kpis_monthly": lambda ledger, at: ledger.kpis_monthly(date(2024, 1, 1), AS_OF, known_at=at),
    "letter": lambda ledger, at: ledger.letter(LetterKind.CONFIRMATION, "ACME", AS_OF, known_at=at),
    "owners": lambda ledger, at: ledger.owners(known_at=at),
    "pending_approvals": lambda ledger, at: ledger.pending_approvals(known_at=at),
    "payment": lambda ledger, at: ledger.payment("BANK-1", known_at=at),
    "portfolio": lambda ledger, at: ledger.portfolio(known_at=at),
    "promises": lambda ledger, at: ledger.promises("ACME", AS_OF, known_at=at),
    "propose_credit_line": lambda ledger, at: ledger.propose_credit_line(
        usd("1000.00"), AS_OF, known_at=at
    ),
    "reductions": lambda ledger, at: ledger.reductions(date(2024, 1, 1), AS_OF, known_at=at),
    "report": lambda ledger, at: ledger.report(AS_OF, known_at=at),
    "statement": lambda ledger, at: ledger.statement("ACME", date(2024, 1, 1), AS_OF, known_at=at),
    "summary": lambda ledger, at: ledger.summary(AS_OF, known_at=at),
    "unapplied_cash": lambda ledger, at: ledger.unapplied_cash(AS_OF, known_at=at),
    "worklist": lambda ledger, at: ledger.worklist(AS_OF, known_at=at),
    "worklist_in": lambda ledger, at: ledger.worklist_in("USD", AS_OF, known_at=at),
}
"""Every public query, asked as known at an instant (tests/property/test_known_at_truncation.py
holds each to the store cut at that instant)."""


def test_every_public_query_can_be_asked_as_known_at_an_instant() -> None:
    assert QUERY_METHODS == KNOWN_AT_QUERIES.keys()
    for name in QUERY_METHODS:
        assert "known_at" in inspect.signature(getattr(Ledger, name)).parameters, name


@pytest.mark.parametrize("query", KNOWN_AT_QUERIES.values(), ids=list(KNOWN_AT_QUERIES))
@pytest.mark.parametrize("known_at", [datetime(2026, 1, 1, 9, 30), date(2026, 1, 1), "2026-01-01"])
def test_a_known_at_that_names_no_instant_is_refused(
    ledger: Ledger, query: Callable[[Ledger, Any], Any], known_at: Any
) -> None:
    """A naive datetime (whose 09:30?), a date or text: refused up front, nothing recorded."""
    before = event_count(ledger)

    with pytest.raises(InvalidDateError) as raised:
        query(ledger, known_at)

    assert "known_at" == raised.value.field
    assert before == event_count(ledger)


def test_an_aware_known_at_in_any_offset_names_the_same_instant(ledger: Ledger) -> None:
    stamp = max(event.timestamp for event in ledger.iter_events())
    east = stamp.astimezone(timezone(timedelta(hours=8)))

    assert ledger.portfolio(known_at=stamp) == ledger.portfolio(known_at=east)
    assert ledger.invoice("INV-1", known_at=east) == ledger.invoice("INV-1")


@pytest.mark.parametrize(
    "command",
    [
        lambda ledger, on: ledger.issue_invoice(
            "INV-2", customer_code="ACME", amount=usd("1.00"), issued_on=on
        ),
        lambda ledger, on: ledger.receive_payment(
            "BANK-2", payer_code="ACME", amount=usd("1.00"), value_on=on
        ),
        lambda ledger, on: ledger.allocate_payment("BANK-1", allocated_on=on),
        lambda ledger, on: ledger.make_promise(
            customer_code="ACME",
            promise_reference="P-1",
            amount=usd("1.00"),
            promised_on=on,
            made_on=date(2024, 3, 1),
            contact="Mr Wu",
        ),
    ],
)
@pytest.mark.parametrize("on", OUTSIDE)
def test_a_command_dated_outside_the_range_is_refused_and_records_nothing(
    ledger: Ledger, command: Callable[[Ledger, date], Any], on: date
) -> None:
    before = event_count(ledger)

    with pytest.raises(InvalidDateError) as raised:
        command(ledger, on)

    assert on == raised.value.value
    assert before == event_count(ledger)


def test_a_period_that_starts_after_it_ends_is_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidDateError) as raised:
        ledger.kpis(date(2024, 2, 1), date(2024, 1, 31))

    assert date(2024, 2, 1) == raised.value.start_on


# Amounts and numbers in imported files ----------------------------------------------------------

IMPORT_MAPPING = ColumnMapping(
    columns={
        "customer_code": "Customer",
        "invoice_number": "Invoice",
        "amount": "Amount",
        "issued_on": "Issued",
        "terms_days": "Terms",
    },
    date_format="%Y-%m-%d",
    currency="USD",
)


@pytest.mark.parametrize(
    ("amount", "terms", "field"),
    [
        ("1_000", "30", "amount"),
        ("\uff11\uff12", "30", "amount"),
        ("NaN", "30", "amount"),
        ("1 000", "30", "amount"),
        ("10.00", "\uff13\uff10", "terms_days"),  # full-width 30
        ("10.00", "\u00b2", "terms_days"),  # a superscript two: a digit to str.isdigit
        ("10.00", "1_0", "terms_days"),
    ],
)
def test_an_imported_number_that_is_not_ascii_digits_is_a_rejected_row(
    ledger: Ledger, tmp_path: Path, amount: str, terms: str, field: str
) -> None:
    path = tmp_path / "invoices.csv"
    path.write_text(
        f'Customer,Invoice,Amount,Issued,Terms\nNEW,INV-9,"{amount}",2024-03-01,{terms}\n',
        encoding="utf-8",
    )
    before = event_count(ledger)

    with pytest.raises(ImportRowError) as raised:
        import_file(ledger, path, IMPORT_MAPPING)

    assert [(2, field)] == [(problem.line, problem.field) for problem in raised.value.problems]
    assert before == event_count(ledger)
