"""A query whose cut has not moved reads nothing again (issue 11, item 4's round trips).

Every Ledger query reads the log's head, the chain link at its cut and (through the query
engine) the events recorded since the engine's position. Where no event was recorded since the
last query, the link is the one read before (a link never changes) and the engine has every
event of the cut: neither is read again. A new event brings both back, read once each (a short
page of events is the log's end: no second read for nothing). Runs on a SQLite file and a
PostgreSQL schema.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from arledger import Ledger, Money
from arledger.adapters.audit import cut as cut_module
from arledger.domain.errors import ReadModelMismatchError
from arledger.projections.ageing import AgeingGrouping
from tests.conftest import FixedClock
from tests.integration.test_read_model_position import delete_last_events, record_customers

AS_OF = date(2024, 6, 30)


class CountingReader:
    """The engine's event reader, counting its reads."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.reads: list[tuple[int, int]] = []

    def read(self, start: int, limit: int) -> list[Any]:
        self.reads.append((start, limit))
        rows: list[Any] = self.reader.read(start, limit)
        return rows


@pytest.fixture
def counted(
    persistent_store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[Ledger, CountingReader, list[str]]:
    ledger = Ledger(env=persistent_store_env, clock=FixedClock())
    record_customers(ledger, 0, 3)
    reader = CountingReader(ledger.query_engine().log.reader)
    ledger.query_engine().log.reader = reader
    statements: list[str] = []
    one = cut_module._Chain.one

    def counting(chain: Any, statement: str, parameters: tuple[Any, ...] = ()) -> Any:
        statements.append(statement)
        return one(chain, statement, parameters)

    monkeypatch.setattr(cut_module._Chain, "one", counting)
    return ledger, reader, statements


def test_a_query_at_an_unmoved_head_reads_no_event_and_no_link_again(
    counted: tuple[Ledger, CountingReader, list[str]], persistent_store_env: dict[str, str]
) -> None:
    ledger, reader, statements = counted
    try:
        first = ledger.worklist(AS_OF)
        reads, links = len(reader.reads), len(statements)
        again = [
            ledger.worklist(AS_OF),
            ledger.ageing(AS_OF),
            ledger.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER),
            ledger.escalation_status("C0", AS_OF).as_of_log,
        ]
        counts = (len(reader.reads), len(statements))
        fresh = Ledger(env=persistent_store_env)  # nothing kept: reads everything
        try:
            expected = fresh.worklist(AS_OF)
        finally:
            fresh.close()
    finally:
        ledger.close()

    assert 1 <= reads
    assert 1 == links  # the link at the head
    assert (reads, links) == counts
    assert first == again[0] == expected
    assert first.as_of_log == again[0].as_of_log == again[3] == expected.as_of_log
    assert first.as_of_log.link is not None


def test_a_new_event_is_read_once_with_its_link(
    counted: tuple[Ledger, CountingReader, list[str]],
) -> None:
    ledger, reader, statements = counted
    try:
        before = ledger.ageing(AS_OF, grouping=AgeingGrouping.INVOICE)
        reads, links = len(reader.reads), len(statements)
        ledger.issue_invoice(
            "INV-NEW", customer_code="C1", amount=Money(7_00, "USD"), issued_on=AS_OF
        )
        after = ledger.ageing(AS_OF, grouping=AgeingGrouping.INVOICE)
        position = before.as_of_log.position
    finally:
        ledger.close()

    # One page from the engine's position (the event read last, then the new one): short, so
    # the log's end; one link, at the new head.
    assert [(position, reader.reads[-1][1])] == reader.reads[reads:]
    assert 1 == len(statements) - links
    assert after.as_of_log.position > position
    assert after.as_of_log.link not in (None, before.as_of_log.link)
    assert {row.key for row in after.rows} - {row.key for row in before.rows} == {"INV-NEW"}


def test_a_head_gone_back_is_still_refused_and_its_links_forgotten(
    counted: tuple[Ledger, CountingReader, list[str]], persistent_store_env: dict[str, str]
) -> None:
    ledger, _reader, _statements = counted
    try:
        head = ledger.worklist(AS_OF).as_of_log.position
        delete_last_events(persistent_store_env, 2)
        with pytest.raises(ReadModelMismatchError):
            ledger.worklist(AS_OF)
        kept = ledger._links.get(head)
    finally:
        ledger.close()

    assert kept is None


def test_the_links_kept_are_bounded_and_the_first_read_goes_first() -> None:
    links = cut_module.ChainLinks(size_max=2)
    for position in (1, 2, 3):
        links.put(position, (bytes([position]), None))
    links.forget_past(2)

    assert [None, (b"\x02", None), None] == [links.get(position) for position in (1, 2, 3)]
