"""Balance confirmations issued from a statement of account, and the reconciliation items a
difference opens (issue 12.5), through the ``Ledger`` on the in-memory and SQLite stores and
through the CLI: the confirmation records the statement's period, closing balance and lines;
an acknowledged difference stays on the worklist, the status and the explanation until a
credit note, payment or dispute of the customer resolves it or an approver accepts it; a
refused command records nothing. On SQLite the worklist is asked of the query engine and of
the replay, which must agree."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import attrs
import pytest
from typer.testing import CliRunner

from arledger import Ledger, Money
from arledger.adapters.cli.app import app
from arledger.adapters.read_models.runner import dump_partition, load_partition
from arledger.domain import commands as c
from arledger.domain.errors import (
    CurrencyMismatchError,
    CustomerStateError,
    InvalidChoiceError,
    InvalidDateError,
    ReconciliationNotFoundError,
    ReconciliationReferenceError,
)
from arledger.domain.events import (
    BalanceConfirmationSent,
    DisputeReason,
    ReconciliationResolution,
    ReconciliationResolved,
)
from arledger.projections import portfolio
from arledger.projections.escalation import WorklistItem
from arledger.projections.portfolio import OpenReconciliation
from tests.conftest import FixedClock
from tests.integration.test_collections_ledger import ledger as ledger
from tests.integration.test_collections_ledger import refused, seed, usd
from tests.unit.test_collections_customer import CUSTOMER_ID, opened, sent
from tests.unit.test_reconciliation import acknowledged

SENT_ON = date(2024, 3, 1)
ACKNOWLEDGED_ON = date(2024, 3, 5)
OPEN_ITEM = OpenReconciliation(
    confirmation_reference="BC-1",
    difference_minor=-50_000,
    currency="USD",
    opened_on=ACKNOWLEDGED_ON,
)


def confirm_with_difference(ledger: Ledger) -> None:
    """ACME (seeded: 1,500.00 open on 2024-02-29) is sent the statement for February and
    confirms 1,000.00: it says 500.00 less than the ledger."""
    ledger.send_balance_confirmation(
        customer_code="ACME",
        confirmation_reference="BC-1",
        balance_as_of=date(2024, 2, 29),
        sent_on=SENT_ON,
        statement_from_on=date(2024, 2, 1),
    )
    ledger.acknowledge_balance_confirmation(
        customer_code="ACME",
        confirmation_reference="BC-1",
        confirmed_balance=usd("1000.00"),
        acknowledged_on=ACKNOWLEDGED_ON,
    )


def on_worklist(ledger: Ledger, as_of: date, code: str = "ACME") -> list[WorklistItem]:
    """The customer's worklist items on ``as_of``; on a stored ledger the engine's answer,
    checked against the replay's."""
    found = ledger.worklist(as_of)
    if ledger.read_models == "stored":
        ledger.read_models = "replay"
        try:
            assert ledger.worklist(as_of) == found
        finally:
            ledger.read_models = "stored"
    return [item for item in found if item.customer_code == code]


def reconciling(ledger: Ledger, as_of: date) -> list[tuple[OpenReconciliation, ...]]:
    """ACME's open reconciliation items on the worklist of ``as_of`` (ACME is overdue from
    2024-02-10, so it is listed on every date these tests ask about)."""
    return [item.reconciliations for item in on_worklist(ledger, as_of)]


def test_a_confirmation_records_its_statement_and_its_closing_balance(ledger: Ledger) -> None:
    seed(ledger)

    (event,) = ledger.send_balance_confirmation(
        customer_code="ACME",
        confirmation_reference="BC-1",
        balance_as_of=date(2024, 2, 29),
        sent_on=SENT_ON,
        statement_from_on=date(2024, 2, 1),
    )
    statement = ledger.statement("ACME", date(2024, 2, 1), date(2024, 2, 29))

    assert isinstance(event, BalanceConfirmationSent)
    assert 150_000 == statement.closing_balance_minor == event.ledger_balance_minor
    # February: INV-2 issued, BANK-1 applied to INV-1.
    assert 2 == len(statement.lines) == event.statement_lines
    assert date(2024, 2, 1) == event.statement_from_on
    (confirmation,) = ledger.balance_confirmations("ACME")
    assert (date(2024, 2, 1), 2, 150_000) == (
        confirmation.statement_from_on,
        confirmation.statement_lines,
        confirmation.ledger_balance_minor,
    )


def test_without_a_start_the_statement_runs_from_the_accounts_opening(ledger: Ledger) -> None:
    seed(ledger)

    (event,) = ledger.send_balance_confirmation(
        customer_code="ACME",
        confirmation_reference="BC-1",
        balance_as_of=date(2024, 1, 31),
        sent_on=SENT_ON,
    )

    assert isinstance(event, BalanceConfirmationSent)
    statement = ledger.statement("ACME", date(2024, 1, 1), date(2024, 1, 31))
    assert (date(2024, 1, 1), 1, 120_000) == (
        event.statement_from_on,
        event.statement_lines,
        event.ledger_balance_minor,
    )
    assert statement.closing_balance_minor == event.ledger_balance_minor


def test_a_confirmation_counts_what_its_own_transaction_recorded_before_it(
    ledger: Ledger,
) -> None:
    result = ledger.execute(
        c.OpenAccount(
            customer_code="NEW",
            name="New Ltd",
            currency="USD",
            collection_owner="li",
            opened_on=date(2024, 1, 1),
        ),
        c.IssueInvoice(
            invoice_number="N-1",
            customer_code="NEW",
            amount=usd("70.00"),
            issued_on=date(2024, 1, 5),
        ),
        c.SendBalanceConfirmation(
            customer_code="NEW",
            confirmation_reference="BC-N",
            balance_as_of=date(2024, 1, 31),
            sent_on=date(2024, 2, 1),
        ),
    )

    (event,) = result.events_of(2)
    assert isinstance(event, BalanceConfirmationSent)
    assert (7_000, 1) == (event.ledger_balance_minor, event.statement_lines)


def test_a_difference_stays_on_the_worklist_and_the_status_until_resolved(
    ledger: Ledger,
) -> None:
    seed(ledger)
    confirm_with_difference(ledger)

    assert [()] == reconciling(ledger, date(2024, 3, 4))
    assert [(OPEN_ITEM,)] == reconciling(ledger, date(2024, 3, 6))
    assert (OPEN_ITEM,) == ledger.escalation_status("ACME", date(2024, 3, 6)).reconciliations
    assert "confirmation BC-1: difference -500.00 USD open since 2024-03-05" in str(
        ledger.explain("ACME", date(2024, 3, 6))
    )

    ledger.resolve_reconciliation(
        customer_code="ACME",
        confirmation_reference="BC-1",
        resolution=ReconciliationResolution.PAYMENT,
        reference="BANK-1",
        resolved_on=date(2024, 3, 10),
        note="the customer counted BANK-1 twice",
    )

    assert [(OPEN_ITEM,)] == reconciling(ledger, date(2024, 3, 9))
    assert [()] == reconciling(ledger, date(2024, 3, 10))
    assert () == ledger.escalation_status("ACME", date(2024, 3, 10)).reconciliations


def test_a_customer_at_level_0_is_listed_while_its_item_is_open(ledger: Ledger) -> None:
    ledger.open_account(
        "BETA", name="Beta", currency="USD", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    ledger.send_balance_confirmation(
        customer_code="BETA",
        confirmation_reference="BC-B",
        balance_as_of=date(2024, 2, 29),
        sent_on=SENT_ON,
    )
    # The customer believes it owes 100.00; the ledger holds nothing open.
    ledger.acknowledge_balance_confirmation(
        customer_code="BETA",
        confirmation_reference="BC-B",
        confirmed_balance=usd("100.00"),
        acknowledged_on=ACKNOWLEDGED_ON,
    )

    assert [] == on_worklist(ledger, date(2024, 3, 4), "BETA")
    (item,) = on_worklist(ledger, date(2024, 3, 6), "BETA")
    assert (0, None, ["BC-B"]) == (
        item.level,
        item.next_action,
        [found.confirmation_reference for found in item.reconciliations],
    )
    ledger.accept_reconciliation(
        customer_code="BETA",
        confirmation_reference="BC-B",
        approver="cfo",
        accepted_on=date(2024, 3, 7),
        reason="their error, told them",
    )
    assert [] == on_worklist(ledger, date(2024, 3, 7), "BETA")
    assert 1 == len(on_worklist(ledger, date(2024, 3, 6), "BETA"))


def credit_note(ledger: Ledger) -> str:
    ledger.apply_credit_note(
        "INV-2",
        credit_note_number="CN-1",
        amount=usd("500.00"),
        applied_on=date(2024, 3, 8),
        reason="returned goods",
        approver="cfo",
    )
    return "CN-1"


def dispute(ledger: Ledger) -> str:
    ledger.open_dispute(
        invoice_number="INV-2",
        dispute_reference="D-1",
        amount=usd("500.00"),
        reason_code=DisputeReason.QUANTITY,
        root_cause="short delivery",
        opened_on=date(2024, 3, 8),
    )
    return "D-1"


@pytest.mark.parametrize(
    ("resolution", "explained_by"),
    [
        (ReconciliationResolution.CREDIT_NOTE, credit_note),
        (ReconciliationResolution.PAYMENT, lambda ledger: "BANK-1"),
        (ReconciliationResolution.DISPUTE, dispute),
    ],
    ids=["credit note", "payment", "dispute"],
)
def test_each_resolution_closes_the_item(
    ledger: Ledger, resolution: ReconciliationResolution, explained_by: Callable[[Ledger], str]
) -> None:
    seed(ledger)
    confirm_with_difference(ledger)
    reference = explained_by(ledger)

    (event,) = ledger.resolve_reconciliation(
        customer_code="ACME",
        confirmation_reference="BC-1",
        resolution=resolution,
        reference=reference,
        resolved_on=date(2024, 3, 10),
        note="explained",
    )

    assert isinstance(event, ReconciliationResolved)
    assert (resolution, reference) == (event.resolution, event.reference)
    assert [(OPEN_ITEM,)] == reconciling(ledger, date(2024, 3, 9))
    assert [()] == reconciling(ledger, date(2024, 3, 10))
    customer = ledger.portfolio().customers[ledger.customer("ACME").id]
    (item,) = customer.reconciliations
    assert (resolution, reference, date(2024, 3, 10)) == (
        item.resolution,
        item.reference,
        item.resolved_on,
    )


def test_an_approver_accepts_a_difference(ledger: Ledger) -> None:
    seed(ledger)
    confirm_with_difference(ledger)

    ledger.accept_reconciliation(
        customer_code="ACME",
        confirmation_reference="BC-1",
        approver="cfo",
        accepted_on=date(2024, 3, 10),
        reason="not worth the dispute",
    )

    assert [()] == reconciling(ledger, date(2024, 3, 10))
    (item,) = ledger.portfolio().customers[ledger.customer("ACME").id].reconciliations
    assert (ReconciliationResolution.ACCEPTED, "cfo") == (item.resolution, item.approver)


def test_refused_resolutions_record_nothing(ledger: Ledger) -> None:
    seed(ledger)
    ledger.open_account(
        "BETA", name="Beta", currency="USD", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    ledger.receive_payment(
        "BANK-B", payer_code="BETA", amount=usd("500.00"), value_on=date(2024, 3, 2)
    )

    def resolve(reference: str = "BANK-1", **changes: Any) -> Any:
        arguments: dict[str, Any] = {
            "customer_code": "ACME",
            "confirmation_reference": "BC-1",
            "resolution": ReconciliationResolution.PAYMENT,
            "reference": reference,
            "resolved_on": date(2024, 3, 10),
            "note": "explained",
        }
        return ledger.resolve_reconciliation(**{**arguments, **changes})

    refused(ledger, ReconciliationNotFoundError, resolve)  # nothing sent yet
    confirm_with_difference(ledger)
    refused(ledger, ReconciliationNotFoundError, lambda: resolve(confirmation_reference="BC-9"))
    error = refused(ledger, ReconciliationReferenceError, lambda: resolve("BANK-B"))  # BETA's
    assert "BANK-B" == getattr(error, "reference", None)
    refused(ledger, ReconciliationReferenceError, lambda: resolve("BANK-404"))
    refused(
        ledger,
        ReconciliationReferenceError,
        lambda: resolve("CN-404", resolution=ReconciliationResolution.CREDIT_NOTE),
    )
    refused(
        ledger,
        InvalidChoiceError,
        lambda: resolve(resolution=ReconciliationResolution.ACCEPTED),
    )
    refused(ledger, InvalidDateError, lambda: resolve(resolved_on=date(2024, 3, 4)))
    resolve()
    refused(ledger, CustomerStateError, resolve)


def test_a_confirmed_balance_in_another_currency_is_refused(ledger: Ledger) -> None:
    seed(ledger)
    ledger.send_balance_confirmation(
        customer_code="ACME",
        confirmation_reference="BC-1",
        balance_as_of=date(2024, 2, 29),
        sent_on=SENT_ON,
    )

    refused(
        ledger,
        CurrencyMismatchError,
        lambda: ledger.acknowledge_balance_confirmation(
            customer_code="ACME",
            confirmation_reference="BC-1",
            confirmed_balance=Money.parse("1000.00", "EUR"),
            acknowledged_on=ACKNOWLEDGED_ON,
        ),
    )


def test_the_cli_worklist_and_explain_show_an_open_item(tmp_path: Path) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = Ledger(env=env, clock=FixedClock())
    seed(ledger)
    confirm_with_difference(ledger)
    runner = CliRunner()

    as_json = runner.invoke(app, ["worklist", "--as-of", "2024-03-06", "--format", "json"], env=env)
    table = runner.invoke(app, ["worklist", "--as-of", "2024-03-06"], env=env)
    explained = runner.invoke(app, ["explain", "ACME", "--as-of", "2024-03-06"], env=env)

    assert 0 == as_json.exit_code, as_json.output
    (item,) = json.loads(as_json.stdout)["items"]
    assert [
        {"confirmation_reference": "BC-1", "difference": "-500.00", "opened_on": "2024-03-05"}
    ] == item["reconciliations"]
    assert 0 == table.exit_code, table.output
    assert "Reconciliation items open" in table.stdout
    line = next(line for line in table.stdout.splitlines() if "BC-1" in line)
    assert ["ACME", "BC-1", "USD", "-500.00", "2024-03-05"] == line.replace("│", " ").split()
    assert 0 == explained.exit_code, explained.output
    assert "confirmation BC-1: difference -500.00 USD open since 2024-03-05" in explained.stdout


def test_engine_segments_stored_before_confirmations_had_statements_keep_loading(
    tmp_path: Path,
) -> None:
    """The query engine's persisted segments hold ``BalanceConfirmationSent`` rows as they were
    written: rows of the layout before ``statement_from_on`` and ``statement_lines`` must load
    beside new ones."""
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    writer = Ledger(env=env, clock=FixedClock())
    seed(writer)
    confirm_with_difference(writer)
    segments = writer.query_engine().log.segments
    assert segments is not None
    writer.query_engine().persist()
    stored = segments.load()
    segments.reset()
    for segment in stored:
        tables = dict(segment.tables)
        if "BalanceConfirmationSent" in tables:
            tables["BalanceConfirmationSent"] = tables["BalanceConfirmationSent"].drop_columns(
                ["statement_from_on", "statement_lines"]
            )
        assert segments.write(attrs.evolve(segment, tables=tables))
    assert any("BalanceConfirmationSent" in segment.tables for segment in stored)

    reader = Ledger(env=env, clock=FixedClock())
    reader.send_balance_confirmation(
        customer_code="ACME",
        confirmation_reference="BC-2",
        balance_as_of=date(2024, 3, 31),
        sent_on=date(2024, 4, 1),
    )

    sent = [
        (event.confirmation_reference, event.statement_lines)
        for event in reader.query_engine().customer_events(reader.customer("ACME").id, None)
        if isinstance(event, BalanceConfirmationSent)
    ]
    assert [("BC-1", None), ("BC-2", 3)] == sent
    assert [(OPEN_ITEM,)] == reconciling(reader, date(2024, 3, 6))


def test_read_model_partitions_stored_before_reconciliation_items_show_their_differences() -> None:
    """A stored partition written before items were kept holds the acknowledged difference but
    no item: it loads with the item open, as a replay of the log gives it."""
    history = [opened(), sent(2, from_statement=False), acknowledged(3)]
    state = portfolio.fold_all(history)
    data = json.loads(dump_partition(state))
    for customer in data["customers"].values():
        del customer["reconciliations"]
        for confirmation in customer["confirmations"]:
            del confirmation["statement_from_on"], confirmation["statement_lines"]

    old = load_partition(json.dumps(data))

    assert state.customers == old.customers
    assert 1 == len(old.customers[CUSTOMER_ID].reconciliations)
