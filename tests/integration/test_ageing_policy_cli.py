"""``arledger ageing`` ages with the policy version in force on its as-of date (issue 9.7).

A SQLite ledger: ACME owes 10,000.00 USD due 2025-01-31; version 2 of the escalation policy,
adopted effective 2025-03-01, ages in buckets with edges (15, 45). ``--edges`` gives a one-off
view with other edges; bad edges are refused with one line on stderr.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.app import app
from arledger.domain.money import Money
from arledger.domain.policy import AgeingPolicy, EscalationPolicy
from tests.conftest import FixedClock

SHORT_LABELS = ["current", "1-15", "16-45", "over 45"]
DEFAULT_LABELS = ["current", "1-30", "31-60", "61-90", "91-120", "over 120"]


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {
        "ARLEDGER_STORE": "sqlite",
        "ARLEDGER_DB": str(tmp_path_factory.mktemp("ageing-policy") / "ledger.db"),
    }
    ledger = Ledger(env=env, clock=FixedClock())
    ledger.open_account(
        "ACME", name="Acme", currency="USD", collection_owner="li", opened_on=date(2025, 1, 1)
    )
    ledger.issue_invoice(
        "INV-1",
        customer_code="ACME",
        amount=Money.parse("10000", "USD"),
        issued_on=date(2025, 1, 1),
        due_on=date(2025, 1, 31),
    )
    ledger.adopt_policy(
        policy=EscalationPolicy(
            version=2,
            ageing=AgeingPolicy(edges_days=(15, 45)),
            provision_rates_bps=(50, 500, 2500, 10000),
        ),
        effective_on=date(2025, 3, 1),
        approver="cfo",
        reason="shorter buckets",
    )
    ledger.close()
    return env


def ageing_json(runner: CliRunner, env: dict[str, str], *args: str) -> dict[str, object]:
    result = runner.invoke(app, ["ageing", *args, "--format", "json"], env=env)
    assert 0 == result.exit_code, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_ageing_uses_the_buckets_of_the_version_in_force_as_kpis_do(runner, store):
    before = ageing_json(runner, store, "--as-of", "2025-02-20")
    after = ageing_json(runner, store, "--as-of", "2025-03-10")
    kpis = runner.invoke(
        app, ["kpis", "--from", "2025-03-01", "--to", "2025-03-10", "--format", "json"], env=store
    )

    assert DEFAULT_LABELS == before["bucket_labels"]
    assert SHORT_LABELS == after["bucket_labels"]
    assert 0 == kpis.exit_code, kpis.output
    assert SHORT_LABELS == json.loads(kpis.stdout)["bucket_labels"]


def test_edges_give_a_one_off_view(runner, store):
    report = ageing_json(runner, store, "--as-of", "2025-03-10", "--edges", "30,60,90")

    assert ["current", "1-30", "31-60", "61-90", "over 90"] == report["bucket_labels"]
    rows = report["rows"]
    assert isinstance(rows, list)
    assert {"current": "0.00", "1-30": "0.00", "31-60": "10000.00", "61-90": "0.00",
            "over 90": "0.00"} == rows[0]["buckets"]  # fmt: skip


@pytest.mark.parametrize(
    ("edges", "complaint"),
    [
        ("30,x", "whole numbers"),
        ("30.5,60", "whole numbers"),
        ("", "whole numbers"),
        ("-5,30", "positive"),
        ("0,30", "positive"),
        ("60,30", "increasing"),
        ("30,30", "increasing"),
    ],
)
def test_bad_edges_are_refused_with_one_line(runner, store, edges, complaint):
    result = runner.invoke(app, ["ageing", "--as-of", "2025-03-10", "--edges", edges], env=store)

    assert 2 == result.exit_code
    lines = result.stderr.splitlines()
    assert 1 == len(lines), result.stderr
    assert lines[0].startswith("error: --edges")
    assert complaint in lines[0]
    assert "Traceback" not in result.output
