"""`arledger audit-pack DIR --as-of D` and `arledger audit-check DIR` (issue 12.6).

One pack is written (module scope) from a generated ledger of 300 invoices on SQLite. Its
figures are the ledger's own answers; a copy of it checks clean with the store deleted; a copy
with one figure changed, and another with one Parquet file changed, each fail the check with
a line naming the file.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import stat
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from arledger import AgeingGrouping, Ledger, Money, VerifyReport, check_audit_pack, to_data
from arledger.adapters.audit import pack as pack_module
from arledger.adapters.cli.app import app
from arledger.adapters.read_models import columnar
from arledger.adapters.synthetic import generate
from arledger.domain.errors import AuditPackError
from tests.conftest import FixedClock
from tests.integration.test_encryption_at_rest import cipher_env

AS_OF = date(2025, 6, 30)
INVOICES = 300


def sqlite_env(folder: Path) -> dict[str, str]:
    return {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(folder / "ledger.db")}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A pack of a generated ledger (the store kept beside it for the tests that read it)."""
    folder = tmp_path_factory.mktemp("audit")
    env = sqlite_env(folder)
    ledger = Ledger(env=env, clock=FixedClock())
    generate.generate_to_store(ledger, INVOICES, 3)
    ledger.close()
    pack = folder / "pack"

    result = CliRunner().invoke(
        app, ["audit-pack", str(pack), "--as-of", AS_OF.isoformat()], env=env
    )

    assert 0 == result.exit_code, result.output
    assert f"Wrote the audit pack {pack}" in result.output
    return pack, env


def copied(pack: Path, to: Path) -> Path:
    shutil.copytree(pack, to)
    return to


def manifest_of(pack: Path) -> dict[str, Any]:
    manifest = json.loads((pack / "manifest.json").read_text())
    assert isinstance(manifest, dict)
    return manifest


def rehash(pack: Path, relative: str) -> None:
    """Update the manifest's SHA-256 of a changed file, as a careful forger would."""
    manifest = manifest_of(pack)
    files = manifest["files"]
    assert isinstance(files, list)
    for entry in files:
        if entry["path"] == relative:
            entry["sha256"] = hashlib.sha256((pack / relative).read_bytes()).hexdigest()
    (pack / "manifest.json").write_text(json.dumps(manifest, indent=2))


def check(pack: Path, env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit-check", str(pack)], env=env)
    return result.exit_code, result.output


# Writing ----------------------------------------------------------------------------------------


def test_the_pack_holds_the_export_the_figures_and_a_manifest_hashing_every_file(
    written: tuple[Path, dict[str, str]],
) -> None:
    pack, env = written
    manifest = manifest_of(pack)
    ledger = Ledger(env=env, clock=FixedClock())
    try:
        report = ledger.verify()
        events = len(list(ledger.iter_events()))
    finally:
        ledger.close()

    assert AS_OF.isoformat() == manifest["as_of"]
    assert {"position": report.head_position, "link": report.head_link} == manifest["chain_head"]
    assert report.head_position == manifest["log_position"]
    assert events == manifest["events"]
    assert {"from_on": "2025-04-01", "to_on": "2025-06-30"}.items() <= dict(
        manifest["period"]
    ).items()
    listed = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    on_disk = {
        path.relative_to(pack).as_posix()
        for path in pack.rglob("*")
        if path.is_file() and path != pack / "manifest.json"
    }
    assert on_disk == set(listed)
    assert {
        "ageing_portfolio.json",
        "ageing_customer.json",
        "worklist.json",
        "kpis.json",
        "verify.json",
        "export/InvoiceIssued.parquet",
    } <= set(listed)
    for path, digest in listed.items():
        assert hashlib.sha256((pack / path).read_bytes()).hexdigest() == digest
    # The whole ledger in plaintext: its owner's only, as an export.
    assert {0o600} == {stat.S_IMODE(path.stat().st_mode) for path in pack.rglob("*.*")}
    assert 0o700 == stat.S_IMODE(pack.stat().st_mode)
    verify = json.loads((pack / "verify.json").read_text())
    assert verify["ok"] is True
    assert [] == verify["findings"]
    assert 1 == manifest["policies"]["in_force"]["version"]


def test_the_pack_s_figures_are_the_ledger_s_answers_as_of_the_date(
    written: tuple[Path, dict[str, str]],
) -> None:
    pack, env = written
    ledger = Ledger(env=env, clock=FixedClock())
    try:
        ageing_portfolio = to_data(ledger.ageing(AS_OF))
        ageing_customer = to_data(ledger.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER))
        worklist = to_data(ledger.worklist(AS_OF))
        kpis = to_data(ledger.kpis(date(2025, 4, 1), AS_OF))
        statements = {
            entry["customer_code"]: to_data(
                ledger.statement(entry["customer_code"], date(2025, 4, 1), AS_OF)
            )
            for entry in manifest_of(pack)["statements"]
        }
    finally:
        ledger.close()

    def stored(name: str) -> object:
        return json.loads((pack / name).read_text())

    assert ageing_portfolio == stored("ageing_portfolio.json")
    assert ageing_customer == stored("ageing_customer.json")
    assert worklist == stored("worklist.json")
    assert kpis == stored("kpis.json")
    assert len(worklist["items"]) > 0
    assert len(statements) > 5
    for entry in manifest_of(pack)["statements"]:
        assert statements[entry["customer_code"]] == stored(entry["file"])


def test_every_customer_with_an_open_balance_or_a_movement_has_a_statement(
    written: tuple[Path, dict[str, str]],
) -> None:
    pack, _ = written
    listed = {entry["customer_code"] for entry in manifest_of(pack)["statements"]}
    ageing_customer = json.loads((pack / "ageing_customer.json").read_text())
    open_customers = {row["key"] for row in ageing_customer["rows"] if row["open_minor"]}

    assert open_customers <= listed
    for entry in manifest_of(pack)["statements"]:
        statement = json.loads((pack / entry["file"]).read_text())
        assert entry["customer_code"] == statement["customer_code"]
        assert statement["closing_balance_minor"] != 0 or statement["lines"]


# Checking offline -------------------------------------------------------------------------------


def test_a_copy_of_the_pack_checks_clean_with_the_store_deleted(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    ledger = Ledger(env=env, clock=FixedClock())
    events = generate.generate_to_store(ledger, INVOICES, 11)
    ledger.close()
    written = CliRunner().invoke(
        app, ["audit-pack", str(tmp_path / "pack"), "--as-of", AS_OF.isoformat()], env=env
    )
    assert 0 == written.exit_code, written.output
    copy = copied(tmp_path / "pack", tmp_path / "elsewhere" / "pack")
    shutil.rmtree(tmp_path / "pack")
    store = Path(env["ARLEDGER_DB"])
    for path in tmp_path.glob("ledger.db*"):
        path.unlink()

    code, output = check(copy, env)

    assert 0 == code, output
    assert f"figure file(s) recomputed from {events} event(s) of the export: ok" in output
    assert not store.exists()  # the check opened no store
    report = check_audit_pack(copy)
    assert report.ok
    assert events == report.events
    assert 4 + len(manifest_of(copy)["statements"]) == report.figures_checked


def test_a_changed_figure_is_named_by_its_hash_and_by_the_recomputed_figure(
    written: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    pack, _ = written
    copy = copied(pack, tmp_path / "figure")
    data = json.loads((copy / "ageing_customer.json").read_text())
    data["rows"][0]["open_minor"] += 100
    (copy / "ageing_customer.json").write_text(json.dumps(data, indent=2))

    code, output = check(copy, {})

    assert 1 == code
    assert "ageing_customer.json: its SHA-256 differs from the manifest's" in output
    assert "ageing_customer.json: rows[0].open_minor: the pack says" in output
    assert "ageing_portfolio.json" not in output
    assert "export/" not in output


def test_a_changed_figure_with_its_hash_updated_is_still_caught_by_the_re_run(
    written: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    pack, _ = written
    copy = copied(pack, tmp_path / "forged")
    kpis = json.loads((copy / "kpis.json").read_text())
    kpis["rows"][0]["cash_collected_minor"] -= 1
    (copy / "kpis.json").write_text(json.dumps(kpis))
    rehash(copy, "kpis.json")

    report = check_audit_pack(copy)

    assert [
        f"kpis.json: rows[0].cash_collected_minor: the pack says "
        f"{kpis['rows'][0]['cash_collected_minor']}, the export gives "
        f"{kpis['rows'][0]['cash_collected_minor'] + 1}"
    ] == [str(mismatch) for mismatch in report.mismatches]


def changed_amount(table: pa.Table, row: int, by: int) -> pa.Table:
    amounts = table.column("amount_minor").to_pylist()
    amounts[row] += by
    index = table.schema.get_field_index("amount_minor")
    return table.set_column(index, table.schema.field(index), pa.array(amounts, pa.int64()))


def latest_plain_invoice(table: pa.Table) -> int:
    """The row of the invoice issued last by the as-of date without instalments (still open
    then, so the ageing shows it; its amount is not split)."""
    rows = [
        (issued_on, row)
        for row, (issued_on, instalments) in enumerate(
            zip(
                table.column("issued_on").to_pylist(),
                table.column("instalments").to_pylist(),
                strict=True,
            )
        )
        if issued_on <= AS_OF and not instalments
    ]
    return max(rows)[1]


def test_a_changed_parquet_file_is_named_and_changes_the_recomputed_figures(
    written: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    pack, _ = written
    copy = copied(pack, tmp_path / "parquet")
    path = copy / "export" / "InvoiceIssued.parquet"
    table = pq.read_table(path)
    pq.write_table(changed_amount(table, latest_plain_invoice(table), 10_000), path)

    code, output = check(copy, {})

    assert 1 == code
    assert "export/InvoiceIssued.parquet: its SHA-256 differs from the manifest's" in output
    assert "ageing_portfolio.json: rows[" in output
    assert "ageing_customer.json: rows[" in output
    # With its hash updated the recomputed figures still name what the change moved.
    rehash(copy, "export/InvoiceIssued.parquet")
    report = check_audit_pack(copy)
    assert {"ageing_portfolio.json", "ageing_customer.json"} <= {m.file for m in report.mismatches}
    assert "export/InvoiceIssued.parquet" not in {m.file for m in report.mismatches}


def test_an_export_whose_events_break_the_ledger_s_invariants_is_one_line(
    written: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    pack, _ = written
    copy = copied(pack, tmp_path / "invariant")
    path = copy / "export" / "InvoiceIssued.parquet"
    table = pq.read_table(path)
    split = next(row for row, parts in enumerate(table.column("instalments").to_pylist()) if parts)
    pq.write_table(changed_amount(table, split, 1), path)  # instalments no longer add up

    messages = [str(m) for m in check_audit_pack(copy).mismatches]

    assert [
        "export/InvoiceIssued.parquet: its SHA-256 differs from the manifest's: it was changed",
        "export: the figures cannot be recomputed from it: its events break an invariant of "
        "the ledger",
    ] == messages


def test_a_parquet_file_that_cannot_be_read_is_one_line_not_a_traceback(
    written: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    pack, _ = written
    copy = copied(pack, tmp_path / "broken")
    (copy / "export" / "PaymentReceived.parquet").write_bytes(b"not parquet")

    code, output = check(copy, {})

    assert 1 == code
    assert "export/PaymentReceived.parquet: its SHA-256 differs" in output
    assert "export: the figures cannot be recomputed from it: " in output
    assert "Traceback" not in output


def test_a_file_added_to_or_removed_from_the_pack_is_named(
    written: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    pack, _ = written
    copy = copied(pack, tmp_path / "files")
    (copy / "statements" / "00001.json").unlink()
    (copy / "notes.txt").write_text("x")

    messages = {str(m) for m in check_audit_pack(copy).mismatches}

    assert "statements/00001.json: missing (listed in the manifest)" in messages
    assert "notes.txt: not listed in the manifest: added to the pack" in messages


def test_a_verify_result_of_another_head_is_named(
    written: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    pack, _ = written
    copy = copied(pack, tmp_path / "head")
    verify = json.loads((copy / "verify.json").read_text())
    verify["head_link"] = "00" * 32
    (copy / "verify.json").write_text(json.dumps(verify))
    rehash(copy, "verify.json")

    messages = [str(m) for m in check_audit_pack(copy).mismatches]

    assert 1 == len(messages)
    assert messages[0].startswith("verify.json: head_link ")


def test_a_folder_that_is_not_a_pack_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()

    code, output = check(tmp_path / "other", {})

    assert 1 == code
    assert "is not an audit pack" in output
    with pytest.raises(AuditPackError):
        check_audit_pack(tmp_path / "other")


# Refusals ---------------------------------------------------------------------------------------


def test_a_folder_that_is_not_empty_is_refused_and_nothing_is_written(
    written: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = written
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")

    result = CliRunner().invoke(app, ["audit-pack", str(folder), "--as-of", "2025-06-30"], env=env)

    assert 1 == result.exit_code
    assert "is not empty" in result.output
    assert ["keep.txt"] == [path.name for path in folder.iterdir()]
    assert [tmp_path / "mine"] == list(tmp_path.iterdir())  # no partial folder left


def test_an_empty_folder_takes_the_pack(
    written: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = written
    folder = tmp_path / "empty"
    folder.mkdir()
    ledger = Ledger(env=env, clock=FixedClock())
    try:
        pack = ledger.audit_pack(folder, as_of=date(2024, 12, 31))
    finally:
        ledger.close()

    assert (folder / "manifest.json").exists()
    assert date(2024, 10, 1) == pack.period_from_on
    assert hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest() == (
        pack.manifest_sha256
    )
    assert check_audit_pack(folder).ok
    assert [folder] == list(tmp_path.iterdir())


def test_an_in_memory_store_has_no_chain_to_pack(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["audit-pack", str(tmp_path / "pack"), "--as-of", "2025-06-30"],
        env={"ARLEDGER_STORE": "memory"},
    )

    assert 2 == result.exit_code
    assert "in-memory store" in result.output
    assert [] == list(tmp_path.iterdir())


def test_with_a_cipher_the_pack_is_refused_unless_plaintext_is_asked_for(tmp_path: Path) -> None:
    env = cipher_env(sqlite_env(tmp_path))
    ledger = Ledger(env=env, clock=FixedClock())
    generate.generate_to_store(ledger, 20, 1)
    ledger.close()
    out = tmp_path / "pack"

    refused = CliRunner().invoke(app, ["audit-pack", str(out), "--as-of", "2025-06-30"], env=env)

    assert 2 == refused.exit_code, refused.output
    assert "is encrypted (CIPHER_TOPIC/CIPHER_KEY)" in refused.output
    assert not out.exists()
    assert not [path for path in tmp_path.iterdir() if "pack" in path.name]

    asked = CliRunner().invoke(
        app, ["audit-pack", str(out), "--as-of", "2025-06-30", "--plaintext"], env=env
    )

    assert 0 == asked.exit_code, asked.output
    assert check_audit_pack(out).ok


def test_known_at_cuts_the_figures_and_the_check_applies_the_same_cut(tmp_path: Path) -> None:
    """The pack as known at T holds the log committed by T (commit order, as every query cuts):
    an invoice committed after T is in neither the export nor the figures."""
    env = sqlite_env(tmp_path)
    ledger = Ledger(env=env, clock=FixedClock())
    try:
        generate.generate_to_store(ledger, INVOICES, 3)
        cut = ledger.ageing(AS_OF).as_of_log.committed_at  # the generated ledger's commit
        assert cut is not None
        customer = next(iter(ledger.portfolio().customers.values()))
        ledger.issue_invoice(
            "LATE-1",
            customer_code=customer.customer_code,
            amount=Money(1_000_00, customer.currency),
            issued_on=date(2025, 6, 1),
        )
        pack = ledger.audit_pack(tmp_path / "cut", as_of=AS_OF, known_at=cut)
        expected = to_data(ledger.ageing(AS_OF, known_at=cut))
        everything = to_data(ledger.ageing(AS_OF))
        head = ledger.recorder.max_notification_id()
    finally:
        ledger.close()

    assert cut == pack.known_at
    assert cut.isoformat() == manifest_of(tmp_path / "cut")["known_at"]
    assert pack.log_position < head
    assert expected == json.loads((tmp_path / "cut" / "ageing_portfolio.json").read_text())
    assert expected != everything
    assert check_audit_pack(tmp_path / "cut").ok


def test_a_naive_known_at_is_refused_before_anything_is_written(
    written: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = written
    ledger = Ledger(env=env, clock=FixedClock())
    try:
        with pytest.raises(ValueError, match="timezone-aware"):
            ledger.audit_pack(tmp_path / "p", as_of=AS_OF, known_at=datetime(2026, 1, 1))
    finally:
        ledger.close()

    assert [] == list(tmp_path.iterdir())


def test_the_module_s_differences_are_one_line_each_and_capped() -> None:
    stored = {"rows": [{"a": index} for index in range(30)]}
    expected = {"rows": [{"a": index + 1} for index in range(30)]}

    lines = list(pack_module._differences(stored, expected))

    assert pack_module.MISMATCHES_PER_FILE_MAX + 1 == len(lines)
    assert ".rows[0].a: the pack says 0, the export gives 1" == lines[0]
    assert lines[-1].endswith("and 10 more difference(s)")


def test_events_committed_after_verify_are_left_out_of_the_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(env=sqlite_env(tmp_path), clock=FixedClock())
    generate.generate_to_store(ledger, 20, 2)
    verify = ledger.verify

    def verify_then_another_writer_commits() -> VerifyReport:
        report = verify()
        ledger.open_account(
            "LATE", name="Late Ltd", currency="USD", collection_owner="li", opened_on=AS_OF
        )
        return report

    monkeypatch.setattr(ledger, "verify", verify_then_another_writer_commits)
    try:
        pack = ledger.audit_pack(tmp_path / "pack", as_of=AS_OF)
        head = ledger.recorder.max_notification_id()
    finally:
        ledger.close()

    assert pack.log_position == pack.verify.head_position
    assert head == pack.log_position + 1  # the late account is in the store, after the head
    exported = list(columnar.from_columnar(columnar.read_parquet(tmp_path / "pack" / "export")))
    assert pack.events == len(exported)
    assert "LATE" not in {getattr(event, "customer_code", None) for event in exported}
    assert check_audit_pack(tmp_path / "pack").ok


def test_a_pack_of_an_empty_store_checks_clean(tmp_path: Path) -> None:
    ledger = Ledger(env=sqlite_env(tmp_path), clock=FixedClock())
    try:
        pack = ledger.audit_pack(tmp_path / "pack", as_of=AS_OF)
    finally:
        ledger.close()

    assert (0, 0, "", 0) == (pack.events, pack.log_position, pack.head_link, pack.statements)
    report = check_audit_pack(tmp_path / "pack")
    assert report.ok
    assert 4 == report.figures_checked


def test_a_file_in_place_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("mine")

    with pytest.raises(AuditPackError, match="is a file or a symbolic link") as refused:
        pack_module.pack_target(tmp_path / "afile")

    assert str(tmp_path / "afile") == refused.value.directory
    assert "mine" == (tmp_path / "afile").read_text()


def test_a_manifest_listing_a_file_outside_the_pack_is_named_and_the_file_not_read(
    written: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    pack, _ = written
    copy = copied(pack, tmp_path / "outside")
    manifest = manifest_of(copy)
    manifest["files"].append({"path": "../secret.txt", "sha256": "00" * 32})
    (copy / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "secret.txt").write_text("not the pack's")

    messages = [str(m) for m in check_audit_pack(copy).mismatches]

    assert ["../secret.txt: not a path inside the pack"] == messages


@pytest.mark.parametrize("command", ["audit-pack", "audit-check"])
def test_each_audit_pack_command_explains_itself_with_help(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])

    assert 0 == result.exit_code
    assert "Usage:" in result.stdout
    assert "SHA-256" in result.stdout


def test_a_store_that_fails_verify_is_packed_with_its_findings_and_exit_1(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    ledger = Ledger(env=env, clock=FixedClock())
    generate.generate_to_store(ledger, 20, 4)
    ledger.close()
    connection = sqlite3.connect(env["ARLEDGER_DB"], isolation_level=None)
    try:
        # Still decodes (JSON with a trailing space), but no longer matches its link.
        connection.execute("UPDATE stored_events SET state = state || ? WHERE rowid = 3", (b" ",))
    finally:
        connection.close()
    out = tmp_path / "pack"

    result = CliRunner().invoke(app, ["audit-pack", str(out), "--as-of", "2025-06-30"], env=env)

    assert 1 == result.exit_code, result.output
    assert "verify: position 3: chain:" in result.output
    assert "verify found 1 finding(s): the pack records them (verify.json)" in result.output
    verify = json.loads((out / "verify.json").read_text())
    assert (False, 3) == (verify["ok"], verify["findings"][0]["position"])
    assert manifest_of(out)["verify_ok"] is False
    assert check_audit_pack(out).ok  # the pack is what was written: its findings are in it


def test_a_store_holding_a_record_that_does_not_decode_is_refused_and_nothing_written(
    tmp_path: Path,
) -> None:
    env = sqlite_env(tmp_path)
    ledger = Ledger(env=env, clock=FixedClock())
    generate.generate_to_store(ledger, 20, 5)
    ledger.close()
    connection = sqlite3.connect(env["ARLEDGER_DB"], isolation_level=None)
    try:
        connection.execute("UPDATE stored_events SET state = ? WHERE rowid = 4", (b"garbage",))
    finally:
        connection.close()
    out = tmp_path / "pack"

    result = CliRunner().invoke(app, ["audit-pack", str(out), "--as-of", "2025-06-30"], env=env)

    assert 1 == result.exit_code, result.output
    assert "records that do not decode (position 4: decode:" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert [] == [path for path in tmp_path.iterdir() if "pack" in path.name]


def test_a_pack_of_each_persistent_store_holds_its_log_and_checks_clean(
    persistent_store_env: dict[str, str], tmp_path: Path
) -> None:
    ledger = Ledger(env=persistent_store_env, clock=FixedClock())
    try:
        events = generate.generate_to_store(ledger, 30, 6)
        pack = ledger.audit_pack(tmp_path / "pack", as_of=AS_OF)
        ageing = to_data(ledger.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER))
    finally:
        ledger.close()

    assert (events, events, True) == (pack.events, pack.log_position, pack.verify.ok)
    assert ageing == json.loads((tmp_path / "pack" / "ageing_customer.json").read_text())
    assert check_audit_pack(tmp_path / "pack").ok
