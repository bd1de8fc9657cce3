"""With the event store's cipher configured, nothing derived from the events is left in
plaintext at rest (issue 12.7): not the events, not the read models, not the columnar
segments, not an idempotency record, not an export or a rejects file unless asked for.

Each test writes a ledger through commands, queries that build the read models and the
segments, then reads back every byte stored (the SQLite file with its WAL and shared memory;
every row of every table of the PostgreSQL schema) and every file written, and looks for
values only the ledger knows: a customer code, a customer's name, an invoice number, a bank
reference, a contact, an amount (as text and as the 8 bytes an Arrow column holds). Without a
cipher the same scan finds them, so the scan can fail.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arledger import Ledger, Money
from arledger.adapters.cli.app import app
from arledger.adapters.ingest.importer import ColumnMapping, import_file
from arledger.adapters.read_models import columnar
from arledger.domain import ids
from arledger.domain.errors import ConfigurationError, PlaintextOutputError
from arledger.domain.events import ActionChannel, DisputeReason
from arledger.projections.portfolio import fold_all
from tests.conftest import FixedClock

CUSTOMER_CODE = "QZCUST-5521"
CUSTOMER_NAME = "Zebulon Secretive Trading"
INVOICE_NUMBER = "INV-ZX-4417"
BANK_REFERENCE = "BANK-QW-9090"
CONTACT = "Mrs Quillfeather"
IDEMPOTENCY_KEY = "retry-QZ-7781"
AMOUNT_MINOR = 9_876_543
"""98,765.43 USD: the invoice's amount."""

TEXT_SECRETS = (
    CUSTOMER_CODE,
    CUSTOMER_NAME,
    INVOICE_NUMBER,
    BANK_REFERENCE,
    CONTACT,
    IDEMPOTENCY_KEY,
)


def needles() -> dict[str, bytes]:
    """What to look for, each as the bytes it is stored as when it is stored in the clear."""
    found = {text: text.encode("utf-8") for text in TEXT_SECRETS}
    found["amount as text"] = str(AMOUNT_MINOR).encode("ascii")
    found["amount as int64"] = struct.pack("<q", AMOUNT_MINOR)
    return found


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


def record_ledger(ledger: Ledger) -> None:
    """Commands of every kind that carry the secrets, one under an idempotency key."""
    ledger.open_account(
        CUSTOMER_CODE,
        name=CUSTOMER_NAME,
        currency="USD",
        collection_owner="li",
        opened_on=date(2024, 1, 1),
        terms_days=30,
    )
    ledger.issue_invoice(
        INVOICE_NUMBER,
        customer_code=CUSTOMER_CODE,
        amount=Money(AMOUNT_MINOR, "USD"),
        issued_on=date(2024, 1, 5),
        idempotency_key=IDEMPOTENCY_KEY,
    )
    ledger.receive_payment(
        BANK_REFERENCE, payer_code=CUSTOMER_CODE, amount=usd("1000.00"), value_on=date(2024, 2, 1)
    )
    ledger.allocate_payment(BANK_REFERENCE, allocation_key="alloc-QZ-1")
    ledger.open_dispute(
        invoice_number=INVOICE_NUMBER,
        dispute_reference="D-QZ-1",
        amount=usd("100.00"),
        reason_code=DisputeReason.QUALITY,
        root_cause="scratched panels",
        opened_on=date(2024, 2, 10),
    )
    ledger.make_promise(
        customer_code=CUSTOMER_CODE,
        promise_reference="P-QZ-1",
        amount=usd("500.00"),
        promised_on=date(2024, 3, 10),
        made_on=date(2024, 3, 1),
        contact=CONTACT,
        invoice_numbers=[INVOICE_NUMBER],
    )
    ledger.record_action(
        customer_code=CUSTOMER_CODE,
        channel=ActionChannel.PHONE,
        taken_on=date(2024, 3, 1),
        collector="li",
        contact=CONTACT,
        outcome="promised",
    )


def query_ledger(ledger: Ledger) -> None:
    """Queries that store what they derive: the read models, the columnar segments."""
    as_of = date(2024, 4, 30)
    ledger.ageing(as_of)
    ledger.worklist(as_of)
    ledger.customer(CUSTOMER_CODE)
    ledger.statement(CUSTOMER_CODE, from_on=date(2024, 1, 1), to_on=as_of)
    if not ledger.in_memory:
        ledger.projection_runner().catch_up()
        ledger.query_engine().persist()  # the segments, however few the events


def stored_values(env: dict[str, str]) -> list[tuple[str, bytes]]:
    """Every value of every row of every table of the store, as (table, bytes)."""
    if env["ARLEDGER_STORE"] == "sqlite":
        with closing(sqlite3.connect(env["ARLEDGER_DB"])) as connection:
            tables = [
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            return [
                (table, as_bytes(value))
                for table in tables
                for row in connection.execute(f'SELECT * FROM "{table}"')
                for value in row
            ]
    from psycopg.sql import SQL, Identifier

    from tests.conftest import postgres_connection

    schema = env["ARLEDGER_POSTGRES_SCHEMA"]
    with postgres_connection() as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        ]
        assert tables
        return [
            (table, as_bytes(value))
            for table in tables
            for row in connection.execute(
                SQL("SELECT * FROM {}.{}").format(Identifier(schema), Identifier(table))
            )
            for value in row
        ]


def as_bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


def files_under(*folders: Path) -> list[Path]:
    return [path for folder in folders for path in sorted(folder.rglob("*")) if path.is_file()]


def findings(values: Iterable[tuple[str, bytes]], files: Iterable[Path]) -> set[tuple[str, str]]:
    """(where, what) for each secret found in a stored value or a file's bytes."""
    found = set()
    wanted = needles()
    for where, data in [*values, *((str(path), path.read_bytes()) for path in files)]:
        for what, needle in wanted.items():
            if needle in data:
                found.add((where, what))
    return found


def cipher_env(env: dict[str, str]) -> dict[str, str]:
    from eventsourcing.cipher import AESCipher

    return {
        **env,
        "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(32),
    }


def scanned_ledger(env: dict[str, str], folder: Path) -> tuple[set[tuple[str, str]], set[str]]:
    """Write and query a ledger, then scan the store and ``folder`` (where a SQLite store's
    files are) twice: while the ledger is open (the WAL holding the latest pages) and after it
    is closed (checkpointed into the database file). Returns what was found, and the tables
    that held rows."""
    ledger = Ledger(env=env, clock=FixedClock())
    record_ledger(ledger)
    query_ledger(ledger)
    values = stored_values(env)
    found = findings(values, files_under(folder))
    ledger.close()
    found |= findings(stored_values(env), files_under(folder))
    return found, {table for table, _ in values}


def test_with_a_cipher_nothing_stored_holds_the_ledger_s_data_in_plaintext(
    persistent_store_env: dict[str, str], tmp_path: Path
) -> None:
    found, tables = scanned_ledger(cipher_env(persistent_store_env), tmp_path)

    # The scan covered the read models and the segments, not only the events.
    assert {"arledger_rm_partitions", "arledger_rm_routes", "arledger_rm_columnar"} <= tables
    assert set() == found


def test_without_a_cipher_the_same_scan_finds_every_secret_in_each_derived_table(
    persistent_store_env: dict[str, str], tmp_path: Path
) -> None:
    found, _ = scanned_ledger(persistent_store_env, tmp_path)

    assert set(needles()) == {what for _, what in found}
    where = {place for place, _ in found}
    assert {"arledger_rm_partitions", "arledger_rm_columnar"} <= where
    assert where & {"stored_events", "arledger_events"}  # SQLite's and PostgreSQL's name


def test_the_segments_are_encrypted_with_the_store_s_cipher(
    persistent_store_env: dict[str, str],
) -> None:
    """The segment rows are the cipher's output (they open with it, and only with it), not
    the Arrow streams, which begin with the IPC continuation marker."""
    from eventsourcing.cipher import AESCipher

    env = cipher_env(persistent_store_env)
    ledger = Ledger(env=env, clock=FixedClock())
    record_ledger(ledger)
    query_ledger(ledger)
    blobs = segment_data(env)
    cipher = AESCipher(ledger.factory.env)  # the ledger's own key
    opened = [cipher.decrypt(blob) for blob in blobs]
    assert opened
    assert all(blob[:4] != b"\xff\xff\xff\xff" for blob in blobs)
    assert all(data[:4] == b"\xff\xff\xff\xff" for data in opened)
    assert any(struct.pack("<q", AMOUNT_MINOR) in data for data in opened)
    ledger.close()
    # A new process with the key loads them back into the same answers.
    again = Ledger(env=env, clock=FixedClock())
    assert ledger_answers(again) == ledger_answers(Ledger(env=env, read_models="replay"))
    again.close()


def segment_data(env: dict[str, str]) -> list[bytes]:
    """The ``data`` column of every stored segment row."""
    if env["ARLEDGER_STORE"] == "sqlite":
        with closing(sqlite3.connect(env["ARLEDGER_DB"])) as connection:
            rows = connection.execute("SELECT data FROM arledger_rm_columnar").fetchall()
    else:
        from psycopg.sql import SQL, Identifier

        from tests.conftest import postgres_connection

        with postgres_connection() as connection:
            rows = connection.execute(
                SQL("SELECT data FROM {}.arledger_rm_columnar").format(
                    Identifier(env["ARLEDGER_POSTGRES_SCHEMA"])
                )
            ).fetchall()
    return [bytes(row[0]) for row in rows]


def test_with_a_cipher_the_routes_pair_no_event_s_id_with_a_customer(
    persistent_store_env: dict[str, str],
) -> None:
    """Stored as they are, the routes would show which invoice, payment and promise belongs to
    which customer (the events table does not); with a cipher they are keyed, so none is the
    id of an event. Without one, each is (the check can fail)."""
    found = {}
    for encrypted in (True, False):
        env = cipher_env(persistent_store_env) if encrypted else persistent_store_env
        if not encrypted and env["ARLEDGER_STORE"] == "postgres":
            env = {**env, "ARLEDGER_POSTGRES_SCHEMA": fresh_schema()}
        elif not encrypted:
            env = {**env, "ARLEDGER_DB": env["ARLEDGER_DB"] + ".plain"}
        ledger = Ledger(env=env, clock=FixedClock())
        record_ledger(ledger)
        ledger.portfolio()  # the stored read models, routes included
        routes = [row for table, row in stored_values(env) if table == "arledger_rm_routes"]
        originators = {str(event.originator_id).encode() for event in ledger.iter_events()}
        ledger.close()
        ids_and_keys = set(routes)
        found[encrypted] = ids_and_keys & originators
        assert routes
    assert 1 == len(found[True])  # the customer's id, as the partition's key, and no other
    assert {str(ids.invoice_id(INVOICE_NUMBER)).encode()} < found[False]


def fresh_schema() -> str:
    from tests.conftest import create_postgres_schema

    schema, _ = create_postgres_schema("t_plain")
    SCHEMAS_MADE.append(schema)
    return schema


SCHEMAS_MADE: list[str] = []


@pytest.fixture(autouse=True)
def drop_made_schemas() -> Iterator[None]:
    yield
    if SCHEMAS_MADE:
        from tests.conftest import drop_postgres_schemas

        drop_postgres_schemas(*SCHEMAS_MADE)
        SCHEMAS_MADE.clear()


def test_routes_an_earlier_version_stored_in_the_clear_are_refused_until_rebuilt(
    persistent_store_env: dict[str, str],
) -> None:
    env = cipher_env(persistent_store_env)
    ledger = Ledger(env=env, clock=FixedClock())
    record_ledger(ledger)
    ledger.portfolio()
    ledger.close()
    # As an earlier version wrote them: under the aggregates' own ids.
    execute(
        env,
        "DELETE FROM {routes}",
        "INSERT INTO {routes} (aggregate_id, partition_key) VALUES "
        f"('{ids.invoice_id(INVOICE_NUMBER)}', '{ids.customer_id(CUSTOMER_CODE)}')",
    )
    again = Ledger(env=env, clock=FixedClock())
    record_more(again)

    with pytest.raises(ConfigurationError, match="projections rebuild"):
        again.portfolio()

    again.projection_runner().rebuild()
    assert fold_all(again.iter_events()) == again.portfolio()
    again.close()


def record_more(ledger: Ledger) -> None:
    ledger.issue_invoice(
        "INV-ZX-4419",
        customer_code=CUSTOMER_CODE,
        amount=usd("10.00"),
        issued_on=date(2024, 5, 1),
    )


def execute(env: dict[str, str], *statements: str) -> None:
    if env["ARLEDGER_STORE"] == "sqlite":
        with closing(sqlite3.connect(env["ARLEDGER_DB"])) as connection, connection:
            for statement in statements:
                connection.execute(statement.format(routes="arledger_rm_routes"))
        return
    from tests.conftest import postgres_connection

    routes = f'"{env["ARLEDGER_POSTGRES_SCHEMA"]}".arledger_rm_routes'
    with postgres_connection() as connection:
        for statement in statements:
            connection.execute(statement.format(routes=routes).encode())


def ledger_answers(ledger: Ledger) -> object:
    return ledger.ageing(date(2024, 4, 30)), ledger.worklist(date(2024, 4, 30))


# Files written on request: an export, a rejects file ------------------------------------------


def recorded_store(env: dict[str, str]) -> int:
    """The events recorded."""
    ledger = Ledger(env=env, clock=FixedClock())
    record_ledger(ledger)
    count = len(list(ledger.iter_events()))
    ledger.close()
    return count


def test_with_a_cipher_an_export_is_refused_unless_plaintext_is_asked_for(
    persistent_store_env: dict[str, str], tmp_path: Path
) -> None:
    env = cipher_env(persistent_store_env)
    recorded = recorded_store(env)
    out = tmp_path / "exported"

    refused = CliRunner().invoke(app, ["export", str(out)], env=env)

    assert 2 == refused.exit_code, refused.output
    assert "is encrypted (CIPHER_TOPIC/CIPHER_KEY)" in refused.output
    assert "--plaintext" in refused.output
    assert not out.exists()
    assert not [path for path in tmp_path.iterdir() if "exported" in path.name]

    asked = CliRunner().invoke(app, ["export", str(out), "--plaintext"], env=env)

    assert 0 == asked.exit_code, asked.output
    assert recorded == columnar.read_parquet(out).event_count
    assert {CUSTOMER_NAME, INVOICE_NUMBER} <= {what for _, what in findings([], files_under(out))}


def test_without_a_cipher_an_export_needs_no_flag(
    persistent_store_env: dict[str, str], tmp_path: Path
) -> None:
    recorded_store(persistent_store_env)

    result = CliRunner().invoke(app, ["export", str(tmp_path / "out")], env=persistent_store_env)

    assert 0 == result.exit_code, result.output


REJECTS_MAPPING = ColumnMapping(
    columns={
        "customer_code": "Customer",
        "customer_name": "Name",
        "invoice_number": "Invoice",
        "amount": "Amount",
        "issued_on": "Issued",
    },
    date_format="%Y-%m-%d",
)


def import_input(folder: Path) -> Path:
    """Two rows, the second bad (an amount that is not one)."""
    path = folder / "invoices.csv"
    path.write_text(
        "Customer,Name,Invoice,Amount,Issued\n"
        f"{CUSTOMER_CODE},{CUSTOMER_NAME},{INVOICE_NUMBER},98765.43,2024-01-05\n"
        f"{CUSTOMER_CODE},{CUSTOMER_NAME},INV-ZX-4418,lots,2024-01-06\n",
        encoding="utf-8",
    )
    return path


def test_with_a_cipher_a_rejects_file_is_refused_unless_plaintext_is_asked_for(
    persistent_store_env: dict[str, str], tmp_path: Path
) -> None:
    env = cipher_env(persistent_store_env)
    source = import_input(tmp_path)
    rejects = tmp_path / "rejects.csv"
    ledger = Ledger(env=env, clock=FixedClock())

    with pytest.raises(PlaintextOutputError) as refused:
        import_file(ledger, source, REJECTS_MAPPING, rejects_to=rejects)

    assert (str(rejects), "rejects file") == (refused.value.path, refused.value.output)
    assert not rejects.exists()
    assert [] == list(ledger.iter_events())  # nothing recorded

    result = CliRunner().invoke(
        app,
        [
            "import",
            str(source),
            "--mapping",
            str(mapping_file(tmp_path)),
            "--rejects-to",
            str(rejects),
        ],
        env=env,
    )
    assert 2 == result.exit_code, result.output
    assert "--plaintext" in result.output
    assert not rejects.exists()
    assert [] == list(ledger.iter_events())

    asked = CliRunner().invoke(
        app,
        [
            "import",
            str(source),
            "--mapping",
            str(mapping_file(tmp_path)),
            "--rejects-to",
            str(rejects),
            "--plaintext",
        ],
        env=env,
    )

    assert 0 == asked.exit_code, asked.output
    assert "INV-ZX-4418" in rejects.read_text(encoding="utf-8")
    assert 1 == len(ledger.customer(CUSTOMER_CODE).invoice_ids)
    ledger.close()


def mapping_file(folder: Path) -> Path:
    import json

    path = folder / "mapping.json"
    path.write_text(
        json.dumps({"columns": REJECTS_MAPPING.columns, "date_format": "%Y-%m-%d"}),
        encoding="utf-8",
    )
    return path
