"""An export replaces its folder safely (issue 9.18): abandoned partial exports are cleaned up,
but never a folder that is not one, nor one another export is writing now; ``export .`` is
refused before any work; a symlinked folder is exported through; the folder keeps its mode and
the files are its owner's only; everything is synced before and after the swap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from typer.testing import CliRunner

from arledger.adapters.cli.app import app
from arledger.adapters.read_models import columnar
from arledger.adapters.read_models.columnar import (
    PARTIAL_MARKER,
    ExportDirectoryError,
    ParquetSink,
    from_columnar,
    read_parquet,
    write_parquet,
)
from arledger.domain.events import InvoiceIssued
from tests.integration.test_file_modes import mode, usual_umask

__all__ = ["usual_umask"]  # an autouse fixture: files are created under umask 022 here too

REPOSITORY = Path(__file__).resolve().parents[2]


def issued(number: str = "INV-1") -> InvoiceIssued:
    return InvoiceIssued(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        invoice_number=number,
        customer_id=uuid4(),
        amount_minor=1000,
        currency="USD",
        issued_on=date(2024, 1, 1),
        due_on=date(2024, 1, 31),
    )


def partials(target: Path) -> list[Path]:
    return sorted(target.parent.glob(f".{target.name}.partial-*"))


# An export in another process, stopped half-way -------------------------------------------

CHILD = """
import sys
from pathlib import Path
from arledger.adapters.read_models.columnar import ColumnarWriter, ParquetSink
from tests.integration.test_export_safety import issued

sink = ParquetSink(Path(sys.argv[1]))
writer = ColumnarWriter(sink, page_rows=1)
writer.write(issued("CHILD-1"))
writer.write(issued("CHILD-2"))
print(sink.partial, flush=True)
sys.stdin.readline()  # held here, half-way, until the test says go on (or kills it)
writer.close()
sink.close()
print("done", flush=True)
"""


@pytest.fixture
def half_way_export() -> Iterator[object]:
    children: list[subprocess.Popen[str]] = []

    def start(target: Path) -> tuple[subprocess.Popen[str], Path]:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(target)],
            cwd=REPOSITORY,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        assert child.stdout is not None
        partial = Path(child.stdout.readline().strip())
        assert partial.is_dir(), "the child did not start its export"
        return child, partial

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait()


def test_a_killed_exports_partial_folder_is_removed_by_the_next_export(
    tmp_path: Path, half_way_export: object
) -> None:
    target = tmp_path / "log"
    child, partial = half_way_export(target)  # type: ignore[operator]
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert [partial] == partials(target)

    write_parquet([issued()], target)

    assert [] == partials(target)
    assert ["INV-1"] == [e.invoice_number for e in from_columnar(read_parquet(target))]


def test_a_partial_folder_being_written_by_a_live_export_is_left_alone(
    tmp_path: Path, half_way_export: object
) -> None:
    target = tmp_path / "log"
    child, partial = half_way_export(target)  # type: ignore[operator]

    write_parquet([issued("MINE")], target)

    assert [partial] == partials(target)  # still there, still being written
    assert 1 == read_parquet(target).event_count
    child.stdin.write("go on\n")
    child.stdin.flush()
    assert "done" == child.stdout.readline().strip()
    assert 0 == child.wait()
    assert 2 == read_parquet(target).event_count  # the child's export, swapped in after
    assert [] == partials(target)


def test_folders_named_like_a_partial_export_but_not_one_are_never_deleted(
    tmp_path: Path,
) -> None:
    target = tmp_path / "log"
    notes = tmp_path / ".log.partial-notes"
    notes.mkdir()
    (notes / "notes.txt").write_text("mine")
    (notes / PARTIAL_MARKER).write_text("")
    unmarked = tmp_path / ".log.partial-unmarked"
    unmarked.mkdir()
    (unmarked / "ids.parquet").write_text("no marker: not known to be ours")
    a_file = tmp_path / ".log.partial-file"
    a_file.write_text("a file")

    write_parquet([issued()], target)

    assert [a_file, notes, unmarked] == partials(target)
    assert "mine" == (notes / "notes.txt").read_text()
    assert (unmarked / "ids.parquet").exists()


def test_a_previous_export_left_by_a_swap_cut_short_is_removed_too(tmp_path: Path) -> None:
    target = tmp_path / "log"
    write_parquet([issued()], target)
    # What a kill between the two renames of the fallback swap leaves: the old export beside.
    left = tmp_path / ".log.partial-abc123.previous"
    write_parquet([issued()], left)
    assert (left / PARTIAL_MARKER).exists()

    write_parquet([issued(), issued("INV-2")], target)

    assert [] == partials(target)
    assert 2 == read_parquet(target).event_count


# The folder ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [".", "..", "./"])
def test_exporting_to_the_working_folder_or_its_parent_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "books.db")}

    result = CliRunner().invoke(app, ["export", name], env=env)

    assert 1 == result.exit_code
    assert "working folder" in result.output
    assert "Traceback" not in result.output
    assert before == sorted(p.name for p in tmp_path.rglob("*"))  # not even the store


def test_a_symlinked_folder_is_exported_through_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "disk" / "log"
    write_parquet([issued()], real)
    link = tmp_path / "log"
    link.symlink_to(real, target_is_directory=True)

    rows = write_parquet([issued(), issued("INV-2")], link)

    assert 2 == rows["InvoiceIssued"]
    assert link.is_symlink()
    assert real == link.resolve()
    assert 2 == read_parquet(link).event_count
    assert [] == partials(real)
    assert [] == partials(link)


def test_the_folder_keeps_its_mode_and_the_files_are_the_owners_only(tmp_path: Path) -> None:
    target = tmp_path / "log"
    target.mkdir()
    target.chmod(0o750)

    write_parquet([issued()], target)

    assert 0o750 == mode(target)
    files = {p.name: mode(p) for p in target.iterdir()}
    assert {"ids.parquet", "InvoiceIssued.parquet", "manifest.json", PARTIAL_MARKER} == set(files)
    assert {name: 0o600 for name in files} == files


def test_a_new_export_folder_is_the_owners_only(tmp_path: Path) -> None:
    write_parquet([issued()], tmp_path / "new")

    assert 0o700 == mode(tmp_path / "new")


def test_files_of_an_export_take_the_mode_the_previous_export_had(tmp_path: Path) -> None:
    target = tmp_path / "log"
    write_parquet([issued()], target)
    for path in target.iterdir():
        path.chmod(0o640)

    write_parquet([issued()], target)

    assert 0o640 == mode(target / "manifest.json")
    assert 0o640 == mode(target / "InvoiceIssued.parquet")


# Durability ------------------------------------------------------------------------------


def test_files_the_folder_and_its_parent_are_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(columnar.os, "fsync", fsync)
    target = tmp_path / "log"
    write_parquet([issued()], target)  # a first export: a rename
    first = list(synced)
    synced.clear()

    sink = ParquetSink(target)
    partial = str(sink.partial)
    with sink:
        writer = columnar.ColumnarWriter(sink)
        writer.write(issued())
        writer.close()  # a second: a swap

    order = {path: index for index, path in enumerate(synced)}
    for name in ("ids.parquet", "InvoiceIssued.parquet"):
        assert order[f"{partial}/{name}"] < order[f"{partial}/manifest.json"]
    assert order[f"{partial}/manifest.json"] < order[partial]  # then the folder's entries
    assert str(tmp_path) == synced[-1]  # the parent, after the swap
    assert str(tmp_path) in first


def test_without_an_atomic_exchange_the_two_renames_still_replace_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(columnar, "_exchange", lambda first, second: False)
    target = tmp_path / "log"
    write_parquet([issued()], target)

    write_parquet([issued(), issued("INV-2")], target)

    assert 2 == read_parquet(target).event_count
    assert [] == partials(target)


def test_refusals_name_the_folder_on_one_line(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "sales.csv").write_text("x")

    with pytest.raises(ExportDirectoryError) as error:
        write_parquet([issued()], tmp_path / "log")

    assert "\n" not in error.value.message
    assert str(tmp_path / "log") == error.value.directory
