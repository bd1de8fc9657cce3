"""``arledger allocation-rule``: adopt a customer's allocation rule from the command line and
show the rules with the one in force (issue 13, item 3), on a SQLite ledger; a refusal is one
line on stderr with exit code 1 and records nothing."""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from typer.testing import CliRunner, Result

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.cli.app import app
from arledger.domain.events import AllocationRule
from tests.conftest import FixedClock


def store(tmp_path: Path) -> dict[str, str]:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    ledger = Ledger(env=env, clock=FixedClock())
    ledger.open_account(
        "ACME", name="Acme", currency="USD", collection_owner="li", opened_on=date(2025, 1, 1)
    )
    ledger.close()
    return env


def adopt(runner: CliRunner, env: dict[str, str], rule: str, on: str) -> Result:
    return runner.invoke(
        app,
        ["allocation-rule", "adopt", "--customer", "ACME", "--rule", rule, "--effective-on", on,
         "--approver", "CFO Wang", "--reason", "customer pays by remittance advice"],
        env=env,
    )  # fmt: skip


def test_a_rule_adopted_on_the_command_line_is_in_force_from_its_date(tmp_path: Path) -> None:
    env = store(tmp_path)
    runner = CliRunner()

    adopted = adopt(runner, env, "proportional", "2025-07-01")
    assert 0 == adopted.exit_code, adopted.output
    assert "proportional" in adopted.stdout

    def shown(*args: str) -> dict[str, object]:
        result = runner.invoke(
            app, ["allocation-rule", "show", "--customer", "ACME", "--format", "json", *args],
            env=env,
        )  # fmt: skip
        assert 0 == result.exit_code, result.output
        data: dict[str, object] = json.loads(result.stdout)
        return data

    before = shown("--as-of", "2025-06-30")
    after = shown("--as-of", "2025-07-01")
    assert ("oldest_due_first", None) == (before["rule"], before["effective_on"])
    assert ("proportional", "2025-07-01") == (after["rule"], after["effective_on"])
    assert [{"effective_on": "2025-07-01", "rule": "proportional"}] == shown()["adopted"]

    ledger = Ledger(env=env, clock=FixedClock())
    assert (AllocationRule.PROPORTIONAL, date(2025, 7, 1)) == ledger.customer(
        "ACME"
    ).allocation_rule_on(date(2025, 8, 1))
    ledger.close()


def test_a_rule_dated_before_the_latest_adoption_is_refused_and_nothing_is_recorded(
    tmp_path: Path,
) -> None:
    env = store(tmp_path)
    runner = CliRunner()
    assert 0 == adopt(runner, env, "explicit_only", "2025-07-01").exit_code

    refused = adopt(runner, env, "oldest_issued_first", "2025-06-01")

    assert 1 == refused.exit_code
    assert "before the latest adoption" in refused.stderr
    ledger = Ledger(env=env, clock=FixedClock())
    assert ((date(2025, 7, 1), AllocationRule.EXPLICIT_ONLY),) == ledger.customer(
        "ACME"
    ).allocation_rules
    ledger.close()


def test_show_at_an_earlier_position_shows_the_rules_adopted_by_then(tmp_path: Path) -> None:
    """``--at-position`` (and ``--known-at``) on ``show``: the rules as the ledger held them."""
    env = store(tmp_path)
    runner = CliRunner()
    ledger = Ledger(env=env, clock=FixedClock())
    before = ledger.worklist(date(2025, 6, 30)).as_of_log
    ledger.close()
    assert before is not None
    assert 0 == adopt(runner, env, "proportional", "2025-07-01").exit_code

    def adopted(*args: str) -> object:
        result = runner.invoke(
            app, ["allocation-rule", "show", "--customer", "ACME", "--format", "json", *args],
            env=env,
        )  # fmt: skip
        assert 0 == result.exit_code, result.output
        return json.loads(result.stdout)["adopted"]

    assert [] == adopted("--at-position", str(before.position))
    assert [{"effective_on": "2025-07-01", "rule": "proportional"}] == adopted()
    gone = runner.invoke(
        app, ["allocation-rule", "show", "--customer", "ACME", "--at-position", "0"], env=env
    )
    assert (1, "ACME") == (gone.exit_code, "ACME" if "ACME" in gone.stderr else gone.stderr)
