"""The unit of work's public surface: look-ups cached once, recorded events applied at once,
savepoints that roll a refused row back, units and hand-over for the bulk writer, preloads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from arledger.adapters.application.handlers import handle
from arledger.adapters.application.ledger import Ledger
from arledger.adapters.application.unit_of_work import AggregateKind, UnitOfWork
from arledger.domain import commands as c
from arledger.domain import ids
from arledger.domain.errors import InvoiceNotFoundError
from arledger.domain.money import Money

OPENED_ON = date(2024, 1, 1)


def open_account(code: str) -> c.OpenAccount:
    return c.OpenAccount(
        customer_code=code, name=code, currency="USD", collection_owner="li", opened_on=OPENED_ON
    )


def issue(number: str, code: str = "ACME", amount_minor: int = 100) -> c.IssueInvoice:
    return c.IssueInvoice(
        invoice_number=number,
        customer_code=code,
        amount=Money(amount_minor, "USD"),
        issued_on=OPENED_ON,
    )


@pytest.fixture
def ledger(clock: Any) -> Iterator[Ledger]:
    ledger = Ledger({"ARLEDGER_STORE": "memory"}, clock=clock)
    yield ledger
    ledger.close()


def test_a_state_is_read_from_the_store_once_then_served_from_the_cache(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.execute(open_account("ACME"))
    uow = UnitOfWork(ledger)
    first = uow.customer("ACME")
    monkeypatch.setattr(ledger.events, "get", lambda *_a, **_k: pytest.fail("read again"))

    assert first is not None
    assert first is uow.customer("ACME")
    assert uow.holds(AggregateKind.CUSTOMER, ids.customer_id("ACME"))


def test_recorded_events_change_the_cached_state_at_once_and_wait_for_the_commit(
    ledger: Ledger,
) -> None:
    uow = UnitOfWork(ledger)
    events = handle(open_account("ACME"), uow)

    assert uow.customer("ACME") is not None
    assert events == uow.pending
    assert UnitOfWork(ledger).customer("ACME") is None  # not saved yet
    assert len(events) == uow.commit()
    assert [] == uow.pending
    assert UnitOfWork(ledger).customer("ACME") is not None


def test_pending_is_a_copy(ledger: Ledger) -> None:
    uow = UnitOfWork(ledger)
    handle(open_account("ACME"), uow)

    uow.pending.clear()

    assert 1 == len(uow.pending)


def test_a_savepoint_rolls_back_states_and_events_when_its_block_raises(ledger: Ledger) -> None:
    uow = UnitOfWork(ledger)
    handle(open_account("ACME"), uow)
    before = uow.customer("ACME")
    pending = uow.pending

    with pytest.raises(InvoiceNotFoundError), uow.savepoint():
        handle(issue("INV-1"), uow)
        handle(
            c.WriteOff(
                invoice_number="NO-SUCH", written_off_on=OPENED_ON, reason="r", approver="a"
            ),
            uow,
        )

    assert pending == uow.pending
    assert before == uow.customer("ACME")
    assert uow.invoice("INV-1") is None


def test_a_savepoint_keeps_what_its_block_recorded_when_it_ends_normally(ledger: Ledger) -> None:
    uow = UnitOfWork(ledger)
    handle(open_account("ACME"), uow)

    with uow.savepoint():
        recorded = handle(issue("INV-1"), uow)

    assert recorded == uow.pending[1:]
    assert uow.invoice("INV-1") is not None


def test_an_inner_savepoint_kept_is_rolled_back_with_the_outer_one(ledger: Ledger) -> None:
    uow = UnitOfWork(ledger)
    handle(open_account("ACME"), uow)
    account_before = uow.customer("ACME")

    with pytest.raises(RuntimeError), uow.savepoint():
        with uow.savepoint():
            handle(issue("INV-1"), uow)
        raise RuntimeError("the row fails after its first command")

    assert 1 == len(uow.pending)
    assert uow.invoice("INV-1") is None
    assert account_before == uow.customer("ACME")


def test_units_cut_pending_only_where_marked_and_take_pending_hands_them_over(
    ledger: Ledger,
) -> None:
    uow = UnitOfWork(ledger)
    handle(open_account("ACME"), uow)
    uow.end_unit()
    uow.end_unit()  # twice at the same place: one mark
    handle(issue("INV-1"), uow)
    handle(issue("INV-2"), uow)

    units = uow.units()
    taken = uow.take_pending()

    assert [1, 4] == [len(unit) for unit in units]
    assert units == taken
    assert [] == uow.pending
    assert [] == uow.units()
    assert uow.invoice("INV-2") is not None  # the states still hold the handed-over events


def test_preload_fills_the_cache_and_leaves_held_states_alone(ledger: Ledger) -> None:
    ledger.execute(open_account("ACME"))
    uow = UnitOfWork(ledger)
    held = uow.customer("ACME")
    unknown = ids.customer_id("NOBODY")

    uow.preload(AggregateKind.CUSTOMER, {ids.customer_id("ACME"): None, unknown: None})

    assert held is uow.customer("ACME")
    assert uow.holds(AggregateKind.CUSTOMER, unknown)
    assert uow.customer("NOBODY") is None


def test_states_lists_what_the_commands_left_in_the_cache(ledger: Ledger) -> None:
    uow = UnitOfWork(ledger)
    handle(open_account("ACME"), uow)
    uow.customer("NOBODY")

    assert [ids.customer_id("ACME")] == list(uow.states(AggregateKind.CUSTOMER))


def test_every_event_the_commands_record_belongs_to_a_kind_the_unit_of_work_caches(
    ledger: Ledger,
) -> None:
    from arledger.adapters.application import unit_of_work
    from arledger.domain.events import ALL_EVENTS

    assert set(ALL_EVENTS) == set(unit_of_work._EVOLVERS)


def test_no_module_outside_the_unit_of_work_touches_its_insides() -> None:
    """The importer and the bulk writer once copied sessions (copy.copy, vars(), ChainMap) and
    reassigned their pending events; only the public surface is used now."""
    root = Path(__file__).resolve().parents[2]
    private = re.compile(
        r"(?<!self)\.(_states|_pending|_unit_ends|_undo|_accepted)\b|copy\.copy\(\s*session|ChainMap"
        r"|vars\(\s*(session|scratch|uow)|\b(session|uow)\.(pending|unit_ends)\s*=(?!=)"
    )
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("adapters", "domain", "projections", "arledger", "benchmarks", "tests")
        for path in (root / folder).rglob("*.py")
        if path.name not in ("unit_of_work.py", "test_unit_of_work.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if private.search(line)
    ]

    assert [] == offenders
