"""Reporting currency (issue 13, item 5): a portfolio in CNY, USD and EUR read in CNY at the
rates recorded as dated facts, with the rates used shown and the per-currency figures exact
and unchanged; a rate dated later never changes an earlier as-of answer."""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from arledger import Ledger, Money
from arledger.adapters.cli.app import app
from arledger.domain.errors import (
    ExchangeRateNotFoundError,
    InvalidExchangeRateError,
    UnknownCurrencyError,
)
from arledger.domain.events import ExchangeRateRecorded
from arledger.domain.policy import EscalationPolicy
from arledger.projections.ageing import AgeingGrouping
from tests.conftest import FixedClock

AS_OF = date(2024, 6, 30)


def portfolio(env: dict[str, str], read_models: str | None = None) -> Ledger:
    """Three customers, one per currency, each owing one overdue invoice on 2024-06-30:
    CN1 10,000.00 CNY, US1 1,000.00 USD, EU1 500.00 EUR; USD and EUR rates to CNY from
    2024-01-01, and a later USD rate from 2024-07-01."""
    ledger = Ledger(env, clock=FixedClock(), read_models=read_models)
    for code, currency, amount, due_on in (
        ("CN1", "CNY", "10000.00", date(2024, 3, 31)),
        ("US1", "USD", "1000.00", date(2024, 5, 31)),
        ("EU1", "EUR", "500.00", date(2024, 6, 15)),
    ):
        ledger.open_account(
            code, name=code, currency=currency, collection_owner="li", opened_on=date(2024, 1, 1)
        )
        ledger.issue_invoice(
            f"INV-{code}",
            customer_code=code,
            amount=Money.parse(amount, currency),
            issued_on=date(2024, 3, 1),
            due_on=due_on,
        )
    ledger.record_exchange_rate(
        from_currency="USD",
        to_currency="CNY",
        rate=Decimal("7.1000"),
        effective_on=date(2024, 1, 1),
        source="PBOC central parity",
    )
    ledger.record_exchange_rate(
        from_currency="EUR",
        to_currency="CNY",
        rate=Decimal("7.8"),
        effective_on=date(2024, 1, 1),
        source="PBOC central parity",
    )
    ledger.record_exchange_rate(
        from_currency="USD",
        to_currency="CNY",
        rate=Decimal("7.3"),
        effective_on=date(2024, 7, 1),
        source="PBOC central parity",
    )
    return ledger


def test_ageing_in_cny_converts_each_currency_at_the_rate_in_force_and_shows_it(store_env):
    ledger = portfolio(store_env)
    report = ledger.ageing_in("CNY", AS_OF)

    # 10,000.00 CNY + 1,000.00 USD x 7.1 + 500.00 EUR x 7.8, in fen.
    assert 1_000_000 + 710_000 + 390_000 == sum(report.totals_minor())
    (row,) = report.rows
    assert ("CNY", "EUR", "USD") == row.currencies
    assert sum(row.buckets_minor) == row.open_minor
    assert [
        ("EUR", "CNY", "7.8", date(2024, 1, 1), "PBOC central parity"),
        ("USD", "CNY", "7.1", date(2024, 1, 1), "PBOC central parity"),
    ] == [
        (r.from_currency, r.to_currency, r.rate_text, r.effective_on, r.source)
        for r in report.rates_used
    ]
    # The per-currency figures are the ageing table itself, exact and unchanged.
    assert ledger.ageing(AS_OF) == report.per_currency
    assert {"CNY": 1_000_000, "USD": 100_000, "EUR": 50_000} == {
        currency: sum(amounts)
        for currency, amounts in report.per_currency.totals_by_currency().items()
    }


def test_a_rate_dated_later_does_not_change_an_earlier_answer_and_moves_a_later_one(
    store_env,
):
    ledger = portfolio(store_env)
    assert 2_100_000 == sum(ledger.ageing_in("CNY", AS_OF).totals_minor())
    later = ledger.ageing_in("CNY", date(2024, 7, 1))
    assert 1_000_000 + 730_000 + 390_000 == sum(later.totals_minor())
    assert "7.3" == next(r.rate_text for r in later.rates_used if r.from_currency == "USD")


def test_the_stored_read_and_the_replay_give_the_same_converted_answers(tmp_path: Path):
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    stored = portfolio(env, read_models="stored")
    replay = Ledger(env, read_models="replay")
    for grouping in (AgeingGrouping.PORTFOLIO, AgeingGrouping.CUSTOMER):
        assert replay.ageing_in("CNY", AS_OF, grouping=grouping) == stored.ageing_in(
            "CNY", AS_OF, grouping=grouping
        )
    assert replay.kpis_in("CNY", date(2024, 1, 1), AS_OF) == stored.kpis_in(
        "CNY", date(2024, 1, 1), AS_OF
    )
    assert replay.worklist_in("CNY", AS_OF) == stored.worklist_in("CNY", AS_OF)


def test_a_correction_recorded_later_is_used_from_then_and_known_at_shows_the_first():
    ledger = portfolio({"ARLEDGER_STORE": "memory"})
    before: datetime = ledger.clock()
    ledger.record_exchange_rate(
        from_currency="EUR",
        to_currency="CNY",
        rate=Decimal("7.7"),
        effective_on=date(2024, 1, 1),
        source="PBOC central parity, corrected",
    )
    assert 1_000_000 + 710_000 + 385_000 == sum(ledger.ageing_in("CNY", AS_OF).totals_minor())
    as_known = ledger.ageing_in("CNY", AS_OF, known_at=before)
    assert 2_100_000 == sum(as_known.totals_minor())
    assert before == as_known.known_at
    # Both rates stay in the history; the book lists them in recording order.
    assert ["7.1", "7.8", "7.3", "7.7"] == [r.rate_text for r in ledger.exchange_rates()]
    assert 3 == len(ledger.exchange_rates(known_at=before))


def test_recording_the_same_rate_again_records_nothing():
    ledger = portfolio({"ARLEDGER_STORE": "memory"})
    again = ledger.record_exchange_rate(
        from_currency="EUR",
        to_currency="CNY",
        rate=Decimal("7.80"),
        effective_on=date(2024, 1, 1),
        source="PBOC central parity",
    )
    assert [] == again
    assert 3 == len(ledger.exchange_rates())


def test_a_missing_rate_is_refused_naming_the_pair_and_the_date():
    ledger = portfolio({"ARLEDGER_STORE": "memory"})
    with pytest.raises(ExchangeRateNotFoundError) as raised:
        ledger.ageing_in("JPY", AS_OF)
    assert "JPY" == raised.value.to_currency
    assert raised.value.from_currency in {"CNY", "EUR", "USD"}
    assert AS_OF == raised.value.on
    assert "JPY" in str(raised.value)
    assert "2024-06-30" in str(raised.value)
    # A currency with no rate to CNY at all: that pair and the date are named.
    ledger.open_account(
        "GB1", name="GB1", currency="GBP", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    ledger.issue_invoice(
        "INV-GB1",
        customer_code="GB1",
        amount=Money.parse("10.00", "GBP"),
        issued_on=date(2024, 3, 1),
        due_on=date(2024, 4, 1),
    )
    with pytest.raises(ExchangeRateNotFoundError) as gbp:
        ledger.ageing_in("CNY", AS_OF)
    assert ("GBP", "CNY", AS_OF) == (gbp.value.from_currency, gbp.value.to_currency, gbp.value.on)


@pytest.mark.parametrize(
    ("from_currency", "to_currency", "rate", "error"),
    [
        ("USD", "USD", Decimal("1"), InvalidExchangeRateError),
        ("USD", "CNY", Decimal("0"), InvalidExchangeRateError),
        ("USD", "CNY", Decimal("-7.1"), InvalidExchangeRateError),
        ("USD", "CNY", Decimal("NaN"), InvalidExchangeRateError),
        ("USD", "CNY", 7.1, InvalidExchangeRateError),
        ("USD", "CNY", Decimal("1.0000000000000001"), InvalidExchangeRateError),
        ("USD", "XXX", Decimal("7.1"), UnknownCurrencyError),
    ],
)
def test_a_bad_rate_is_refused_and_nothing_is_recorded(from_currency, to_currency, rate, error):
    ledger = Ledger({"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    with pytest.raises(error):
        ledger.record_exchange_rate(
            from_currency=from_currency,
            to_currency=to_currency,
            rate=rate,
            effective_on=date(2024, 1, 1),
            source="desk",
        )
    assert () == ledger.exchange_rates()
    assert [] == [e for e in ledger.iter_events() if isinstance(e, ExchangeRateRecorded)]


def test_kpis_in_cny_add_the_converted_amounts_and_keep_the_per_currency_rows():
    ledger = portfolio({"ARLEDGER_STORE": "memory"})
    report = ledger.kpis_in("CNY", date(2024, 1, 1), AS_OF)
    (row,) = report.rows
    assert 2_100_000 == row.receivables_minor_ending
    assert 2_100_000 == row.credit_sales_minor
    assert ledger.kpis(date(2024, 1, 1), AS_OF) == report.per_currency
    assert {"EUR", "USD"} == {rate.from_currency for rate in report.rates_used}


def test_kpis_in_cny_show_goods_settled_apart_from_cash_converted():
    ledger = portfolio({"ARLEDGER_STORE": "memory"})
    ledger.propose_goods_in_lieu(
        customer_code="US1",
        settlement_reference="GIL-1",
        goods="steel coil",
        quantity=1,
        unit="lot",
        appraised=Money.parse("500.00", "USD"),
        appraiser="Zhou",
        proposed_on=date(2024, 6, 1),
    )
    ledger.approve_goods_in_lieu(
        customer_code="US1",
        settlement_reference="GIL-1",
        approver="cfo",
        reason="saleable",
        approved_on=date(2024, 6, 2),
    )
    ledger.settle_goods_in_lieu(
        customer_code="US1",
        settlement_reference="GIL-1",
        allocations={"INV-US1": Money.parse("350.00", "USD")},
        settled_on=date(2024, 6, 3),
    )

    (row,) = ledger.kpis_in("CNY", date(2024, 1, 1), AS_OF).rows

    # 350.00 USD (500.00 less the 30% haircut) at 7.1 is 2,485.00 CNY, not cash.
    assert (248_500, 0) == (row.settled_in_goods_minor, row.cash_collected_minor)
    assert Decimal("11.83") == row.collection_rate_in_goods  # 2,485.00 / 21,000.00
    assert Decimal("0.00") == row.collection_rate


def test_the_worklist_in_cny_orders_by_overdue_amounts_converted_not_by_threshold_shares():
    ledger = portfolio({"ARLEDGER_STORE": "memory"})
    # A small "large" threshold for EUR: per currency, EU1's 500.00 is half of its threshold
    # and outranks US1's 1,000.00 (a hundredth of 100,000.00); in CNY, 7,100.00 outranks
    # 3,900.00.
    ledger.adopt_policy(
        policy=EscalationPolicy(version=2, large_above_major_by_currency={"EUR": 1000}),
        effective_on=date(2024, 1, 1),
        approver="cfo",
        reason="the EUR book is small",
    )
    worklist = ledger.worklist_in("CNY", AS_OF)
    assert [("CN1", 1_000_000), ("US1", 710_000), ("EU1", 390_000)] == [
        (entry.item.customer_code, entry.overdue_minor_reporting) for entry in worklist.items
    ]
    assert ["CN1", "EU1", "US1"] == [item.customer_code for item in worklist.per_currency]
    assert ledger.worklist(AS_OF) == worklist.per_currency
    assert 2 == worklist.policy_version


# CLI ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {
        "ARLEDGER_STORE": "sqlite",
        "ARLEDGER_DB": str(tmp_path_factory.mktemp("rates") / "ledger.db"),
    }
    portfolio(env)
    return env


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={**env, "COLUMNS": "200"})


def test_the_cli_records_and_lists_rates(tmp_path: Path):
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    args = ["rates", "record", "--from", "USD", "--to", "CNY", "--rate", "7.1"]
    args += ["--effective-on", "2024-01-01", "--source", "PBOC central parity"]
    first = invoke(env, *args)
    assert 0 == first.exit_code, first.output
    assert "recorded" in first.output
    again = invoke(env, *args)
    assert "already recorded" in again.output
    listed = invoke(env, "rates", "list", "--json")
    assert 0 == listed.exit_code, listed.output
    assert [("USD", "CNY", "7.1", "2024-01-01", "PBOC central parity")] == [
        (r["from_currency"], r["to_currency"], r["rate"], r["effective_on"], r["source"])
        for r in json.loads(listed.output)
    ]
    bad = invoke(env, "rates", "record", *args[2:6], "--rate", "seven", *args[8:])
    assert 2 == bad.exit_code
    refused = invoke(env, "rates", "record", *args[2:4], "--to", "USD", *args[6:])
    assert 1 == refused.exit_code
    assert "two currencies" in refused.output


def test_the_cli_ageing_in_cny_shows_the_total_and_the_rates_used(cli_env):
    table = invoke(cli_env, "ageing", "--as-of", "2024-06-30", "--reporting-currency", "CNY")
    assert 0 == table.exit_code, table.output
    words = " ".join(table.output.split())  # the caption wraps to the table's width
    assert "21,000.00" in words
    assert "1 USD = 7.1 CNY from 2024-01-01 (PBOC central parity)" in words
    data = json.loads(
        invoke(
            cli_env,
            "ageing",
            "--as-of",
            "2024-06-30",
            "--reporting-currency",
            "CNY",
            "--format",
            "json",
        ).output
    )
    assert "21000.00" == data["rows"][0]["open"]
    assert {"USD": "7.1", "EUR": "7.8"} == {
        r["from_currency"]: r["rate"] for r in data["rates_used"]
    }
    assert {"CNY", "USD", "EUR"} == {row["currency"] for row in data["per_currency"]["rows"]}


def test_the_cli_kpis_and_worklist_in_cny_name_the_rates(cli_env):
    kpis = invoke(
        cli_env,
        "kpis",
        "--from",
        "2024-01-01",
        "--to",
        "2024-06-30",
        "--reporting-currency",
        "CNY",
    )
    assert 0 == kpis.exit_code, kpis.output
    assert "1 EUR = 7.8 CNY" in " ".join(kpis.output.split())
    worklist = invoke(
        cli_env,
        "worklist",
        "--as-of",
        "2024-06-30",
        "--reporting-currency",
        "CNY",
        "--format",
        "json",
    )
    assert 0 == worklist.exit_code, worklist.output
    data = json.loads(worklist.output)
    assert [("CN1", "10000.00"), ("US1", "7100.00"), ("EU1", "3900.00")] == [
        (item["customer_code"], item["overdue_reporting"]) for item in data["items"]
    ]
    missing = invoke(cli_env, "ageing", "--as-of", "2024-06-30", "--reporting-currency", "JPY")
    assert 1 == missing.exit_code
    assert "-> JPY" in missing.output


def test_the_cli_worklist_in_cny_shows_the_first_customers_and_says_how_many_it_left_out(
    cli_env,
):
    table = invoke(
        cli_env,
        "worklist",
        "--as-of",
        "2024-06-30",
        "--reporting-currency",
        "CNY",
        "--limit",
        "2",
    )
    assert 0 == table.exit_code, table.output
    words = " ".join(table.output.split())  # the caption wraps to the table's width
    assert "CN1" in words and "US1" in words and "EU1" not in words
    assert "The first 2 of 3 customers: --limit 0 shows all" in words
    everyone = invoke(
        cli_env, "worklist", "--as-of", "2024-06-30", "--reporting-currency", "CNY", "--limit", "0"
    )
    assert "EU1" in everyone.output
    assert "The first" not in everyone.output


def test_the_cli_writes_the_ageing_and_kpis_in_cny_as_csv_naming_the_rates(cli_env):
    ageing = invoke(
        cli_env, "ageing", "--as-of", "2024-06-30", "--reporting-currency", "CNY", "--format", "csv"
    )
    assert 0 == ageing.exit_code, ageing.output
    (row,) = list(csv.DictReader(io.StringIO(ageing.output)))
    assert ("CNY", "21000.00", "CNY EUR USD") == (
        row["reporting_currency"],
        row["open"],
        row["currencies"],
    )
    assert (
        "1 EUR = 7.8 CNY from 2024-01-01 (PBOC central parity); "
        "1 USD = 7.1 CNY from 2024-01-01 (PBOC central parity)"
    ) == row["rates_used"]
    kpis = invoke(
        cli_env,
        "kpis",
        "--from",
        "2024-01-01",
        "--to",
        "2024-06-30",
        "--reporting-currency",
        "CNY",
        "--format",
        "csv",
    )
    assert 0 == kpis.exit_code, kpis.output
    (row,) = list(csv.DictReader(io.StringIO(kpis.output)))
    assert ("21000.00", "21000.00", "0.00") == (
        row["ending_ar"],
        row["credit_sales"],
        row["settled_in_goods"],
    )
    assert "1 USD = 7.1 CNY" in row["rates_used"]


def test_at_position_reads_the_report_and_its_rates_at_one_cut(tmp_path: Path):
    """A rate recorded after position P changes today's answer; ``--at-position P`` (and the
    API's ``at_position``) gives the answer of P, report and rates alike."""
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = portfolio(env)
    try:
        before = ledger.ageing_in("CNY", AS_OF)
        position = before.per_currency.as_of_log
        assert position is not None
        ledger.record_exchange_rate(
            from_currency="USD",
            to_currency="CNY",
            rate=Decimal("7.2"),
            effective_on=date(2024, 6, 1),
            source="PBOC central parity",
        )
        after = ledger.ageing_in("CNY", AS_OF)
        again = ledger.ageing_in("CNY", AS_OF, at_position=position.position)
        kpis_again = ledger.kpis_in("CNY", date(2024, 1, 1), AS_OF, at_position=position.position)
        worklist_again = ledger.worklist_in("CNY", AS_OF, at_position=position.position)
    finally:
        ledger.close()
    assert (2_100_000, 2_110_000) == (before.rows[0].open_minor, after.rows[0].open_minor)
    assert (before.rows, before.rates_used) == (again.rows, again.rates_used)
    assert ["7.1"] == [r.rate_text for r in kpis_again.rates_used if r.from_currency == "USD"]
    assert ["7.1"] == [r.rate_text for r in worklist_again.rates_used if r.from_currency == "USD"]
    args = ["ageing", "--as-of", "2024-06-30", "--reporting-currency", "CNY", "--format", "json"]
    now = json.loads(invoke(env, *args).output)
    cut = invoke(env, *args, "--at-position", str(position.position))
    assert 0 == cut.exit_code, cut.output
    assert ("21100.00", "21000.00") == (
        now["rows"][0]["open"],
        json.loads(cut.output)["rows"][0]["open"],
    )
