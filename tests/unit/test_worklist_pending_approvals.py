"""Pending reduction requests on the approver's worklist (issue 13.1): a concession, write-off or
due-date override asked for by a salesperson waits on the worklist of each person who may approve
it (amount, customer, who asked and since when) until it is approved or rejected, the same from
the query engine and from a replay, on the command line too."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arledger import Ledger, OwnerNotFoundError, ReductionKind
from arledger.adapters.cli.app import app
from tests.conftest import FixedClock
from tests.unit.test_due_date_override import cny, opened

AS_OF = date(2024, 2, 10)


def _requested(ledger: Ledger) -> Ledger:
    """On ``opened``'s book, Liu asks for a 20,000.00 concession (within the sales manager's
    50,000.00) on 2024-02-05 and a 200,000.00 one (the finance director's only) on 2024-02-06."""
    for reference, amount, on in (
        ("REQ-1", "20000.00", date(2024, 2, 5)),
        ("REQ-2", "200000.00", date(2024, 2, 6)),
    ):
        ledger.request_reduction(
            reference,
            kind=ReductionKind.CONCESSION,
            invoice_number="INV-1" if reference == "REQ-1" else "INV-9",
            amount=cny(amount),
            reduce_on=on,
            reason="volume rebate",
            requested_by="Liu",
            requested_on=on,
        )
    return ledger


def _stores(tmp_path: Path) -> dict[str, str]:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = opened(Ledger(env=env, clock=FixedClock()))
    ledger.issue_invoice(
        "INV-9",
        customer_code="HUADA",
        amount=cny("500000.00"),
        issued_on=date(2024, 1, 5),
        due_on=date(2024, 2, 4),
    )
    _requested(ledger).close()
    return env


def _seen(ledger: Ledger, owner: str | None) -> list[tuple[str, str, int, str, date]]:
    return [
        (p.request_reference, p.customer_code, p.amount_minor, p.requested_by, p.requested_on)
        for p in ledger.worklist(AS_OF, owner=owner).pending_approvals
    ]


def test_an_approvers_worklist_shows_the_requests_waiting_for_them(tmp_path: Path) -> None:
    env = _stores(tmp_path)
    engine = Ledger(env={**env, "ARLEDGER_READ_MODELS": "stored"})
    replay = Ledger(env={**env, "ARLEDGER_READ_MODELS": "replay"})
    for ledger in (engine, replay):
        # Wang's role may approve 50,000.00: only the first; Zhao's both; without an owner, all.
        assert [("REQ-1", "HUADA", 2_000_000, "Liu", date(2024, 2, 5))] == _seen(ledger, "Wang")
        assert ["REQ-1", "REQ-2"] == [row[0] for row in _seen(ledger, "Zhao")]
        assert ["REQ-1", "REQ-2"] == [row[0] for row in _seen(ledger, None)]
    assert engine.worklist(AS_OF, owner="Zhao") == replay.worklist(AS_OF, owner="Zhao")
    engine.close()
    replay.close()


def test_an_approved_or_rejected_request_leaves_the_worklist(tmp_path: Path) -> None:
    env = _stores(tmp_path)
    ledger = Ledger(env=env, clock=FixedClock())
    ledger.approve_reduction("REQ-1", approver="Wang", approved_on=date(2024, 2, 7))
    ledger.reject_reduction(
        "REQ-2", rejected_by="Zhao", rejected_on=date(2024, 2, 8), reason="no rebate agreed"
    )
    assert [] == _seen(ledger, "Zhao")
    assert [] == _seen(ledger, None)
    ledger.close()


def test_a_person_neither_owner_manager_nor_approver_is_refused(tmp_path: Path) -> None:
    ledger = Ledger(env=_stores(tmp_path))
    with pytest.raises(OwnerNotFoundError):
        ledger.worklist(AS_OF, owner="Nobody")
    ledger.close()


def test_the_worklist_command_lists_the_requests_for_the_approver(tmp_path: Path) -> None:
    env = _stores(tmp_path)
    as_json = CliRunner().invoke(
        app,
        ["worklist", "--as-of", AS_OF.isoformat(), "--owner", "Wang", "--format", "json"],
        env=env,
    )
    assert 0 == as_json.exit_code, as_json.output
    assert [("REQ-1", "HUADA", "20000.00", "Liu", "2024-02-05")] == [
        (
            r["request_reference"],
            r["customer_code"],
            r["amount"],
            r["requested_by"],
            r["requested_on"],
        )
        for r in json.loads(as_json.stdout)["pending_approvals"]
    ]
    table = CliRunner().invoke(
        app,
        ["worklist", "--as-of", AS_OF.isoformat(), "--owner", "Wang"],
        env={**env, "COLUMNS": "200"},
    )
    assert 0 == table.exit_code, table.output
    assert "waiting for approval by Wang" in table.stdout
    assert "REQ-1" in table.stdout
    assert "REQ-2" not in table.stdout
