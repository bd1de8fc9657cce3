"""Goods in lieu in the ageing (issue 13.2): what a settlement in goods [以物抵债] settled of the
open invoices is shown apart from cash, in a column of its own, the same from the query engine
and from the folds; the open amount and its buckets are what neither cash nor goods settled."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from arledger import Ledger
from arledger.adapters.cli.app import app
from arledger.projections import portfolio
from arledger.projections.ageing import AgeingGrouping
from tests.conftest import FixedClock
from tests.integration.test_goods_in_lieu import approve, ledger_owed, propose, usd


def _settled(ledger: Ledger) -> Ledger:
    """Goods appraised at 100,000.00 with the 30% haircut settle 70,000.00 of INV-1 (120,000.00)
    on 2024-04-10."""
    propose(ledger)
    approve(ledger)
    ledger.settle_goods_in_lieu(
        customer_code="ACME",
        settlement_reference="GIL-1",
        allocations={"INV-1": usd("70000.00")},
        settled_on=date(2024, 4, 10),
    )
    return ledger


def test_goods_settled_show_apart_from_cash_in_the_ageing_from_their_date() -> None:
    ledger = _settled(ledger_owed())
    state = portfolio.fold_all(list(ledger.iter_events()))
    for as_of, goods, open_inv1 in (
        (date(2024, 4, 9), "0.00", "120000.00"),
        (date(2024, 4, 10), "70000.00", "50000.00"),
    ):
        for grouping in (AgeingGrouping.INVOICE, AgeingGrouping.CUSTOMER):
            engine = ledger.ageing(as_of, grouping=grouping)
            assert portfolio.ageing_report(state, as_of, grouping=grouping) == engine
        rows = {row.key: row for row in ledger.ageing(as_of, grouping=AgeingGrouping.INVOICE).rows}
        assert usd(goods).amount_minor == rows["INV-1"].settled_in_goods_minor
        assert usd(open_inv1).amount_minor == rows["INV-1"].open_minor
        assert 0 == rows["INV-2"].settled_in_goods_minor
        [customer] = ledger.ageing(as_of, grouping=AgeingGrouping.CUSTOMER).rows
        assert usd(goods).amount_minor == customer.settled_in_goods_minor


def test_the_cli_ageing_shows_the_goods_column_in_the_table_and_json(tmp_path: Path) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = Ledger(env=env, clock=FixedClock())
    ledger.open_account(
        "ACME", name="Acme Ltd", currency="USD", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    ledger.issue_invoice(
        "INV-1",
        customer_code="ACME",
        amount=usd("120000.00"),
        issued_on=date(2024, 1, 2),
        due_on=date(2024, 2, 1),
    )
    _settled(ledger).close()
    query = ["ageing", "--as-of", "2024-04-30", "--by", "customer"]
    as_json = CliRunner().invoke(app, [*query, "--format", "json"], env=env)
    assert 0 == as_json.exit_code, as_json.output
    assert ["70000.00"] == [row["settled_in_goods"] for row in json.loads(as_json.stdout)["rows"]]
    table = CliRunner().invoke(app, query, env={**env, "COLUMNS": "220"})
    assert 0 == table.exit_code, table.output
    assert "settled in goods" in table.stdout
    assert "70,000.00" in table.stdout
