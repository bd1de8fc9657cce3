"""Services starting at once on a new PostgreSQL schema: every process gets a working Ledger.

Constructing a Ledger creates the library's tables (CREATE ... IF NOT EXISTS); PostgreSQL fails
such statements run at the same moment in different sessions ("tuple concurrently updated"),
so the Ledger serialises its table creation with an advisory lock. Real processes, released
together by a barrier, on fresh schemas.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest

from arledger import Ledger
from tests.conftest import postgres_schemas

PROCESSES = 4
ROUNDS = 5
BARRIER_TIMEOUT_S = 60
JOIN_TIMEOUT_S = 120

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def schemas() -> Iterator[Callable[[], dict[str, str]]]:
    with postgres_schemas("start") as make:
        yield make


def start(env: dict[str, str], code: str, barrier: Any, results: Any) -> None:
    try:
        barrier.wait(BARRIER_TIMEOUT_S)
        ledger = Ledger(env=env)
        try:
            ledger.open_account(
                code, name=code, currency="USD", collection_owner="li", opened_on=date(2024, 1, 1)
            )
        finally:
            ledger.close()
        results.put((code, None))
    except BaseException:
        results.put((code, traceback.format_exc()))


def test_ledgers_constructed_at_once_on_a_new_schema_all_work(
    schemas: Callable[[], dict[str, str]],
) -> None:
    context = multiprocessing.get_context("spawn")
    for round_number in range(ROUNDS):
        env = schemas()
        barrier = context.Barrier(PROCESSES)
        results = context.Queue()
        codes = [f"R{round_number}-C{n}" for n in range(PROCESSES)]
        processes = [
            context.Process(target=start, args=(env, code, barrier, results)) for code in codes
        ]
        for process in processes:
            process.start()
        reports = dict(results.get(timeout=JOIN_TIMEOUT_S) for _ in processes)
        for process in processes:
            process.join(JOIN_TIMEOUT_S)

        assert {code: None for code in codes} == reports
        ledger = Ledger(env=env)
        try:
            assert set(codes) == {ledger.customer(code).customer_code for code in codes}
        finally:
            ledger.close()
