"""Audit packs: the ledger's figures as of a date, with the log they come from, in one folder
an auditor can check offline.

``write_pack`` (``Ledger.audit_pack``, ``arledger audit-pack``) verifies the store, exports its
log up to the chain head that verify reported (Parquet, ``export/``: the columnar layout of
``arledger export``), and writes beside it, as JSON through the one converter (``to_data``):
the ageing (portfolio and by customer), the worklist and the KPIs as of the date, one statement
of account per customer with an open balance or a movement in the period, and the verify
result. ``manifest.json``, written last, names the version of arledger, the as-of date and cut,
the period, the log position and chain head, the escalation policy versions (the one in force
on the date apart), and every other file of the pack with its SHA-256.

``check_audit_pack`` (``arledger audit-check``) needs nothing but the folder: it hashes every file
against the manifest, reads the export back, folds it again and compares each figure with the
pack's, one mismatch a line.

Invariant: the pack's figures are computed from the pack's own export (read back from the
Parquet files just written, by ``figures``), and the check computes them with the same
function from the same files; so a pack checks clean exactly when nothing in it was changed.
The folds are the reference path of the queries (``read_models="replay"``), which the query
engine's answers equal field by field (tests/property/test_engine_differential.py).

What a pack does not prove by itself: that its export is the ledger's log. The chain head in
the manifest does, compared with ``arledger verify --expect-head`` on the store (or with a
head written down elsewhere): the chain hashes the stored records' bytes, which the Parquet
files do not hold, so the check cannot recompute it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any, Final

import attrs

from arledger.adapters.audit.report import FindingKind, VerifyReport
from arledger.adapters.data_output import JsonData, to_data
from arledger.adapters.read_models import columnar
from arledger.domain.errors import AuditPackError
from arledger.domain.events import Event
from arledger.domain.rules import require_date, require_known_at
from arledger.projections import ageing, escalation, kpis
from arledger.projections import statement as statement_projection
from arledger.projections.portfolio import ageing_report
from arledger.projections.results import Worklist

PACK_FORMAT: Final = "arledger-audit-pack"
PACK_FORMAT_VERSION: Final = 1
MANIFEST: Final = "manifest.json"
EXPORT_FOLDER: Final = "export"
STATEMENTS_FOLDER: Final = "statements"
VERIFY_FILE: Final = "verify.json"
KPI_MONTHS: Final = 3
"""The KPIs' and statements' period: the 3 months ending on the as-of date, as
``arledger kpis --as-of`` takes by default (``kpis.trailing_period``)."""
FILE_MODE: Final = 0o600
"""The whole ledger in plaintext: its owner's only, as an export's files."""
MISMATCHES_PER_FILE_MAX: Final = 20
"""Differences listed per figure file; more are counted in one line (a changed export
changes hundreds of figures, and the first ones say where to look)."""
VALUE_TEXT_MAX: Final = 80


@attrs.frozen(kw_only=True)
class AuditPack:
    """What ``Ledger.audit_pack`` wrote: where, of which log, and the manifest's own hash
    (write it down with the chain head: the manifest holds every other file's)."""

    directory: str
    as_of: date
    known_at: datetime | None
    period_from_on: date
    """First day of the KPIs' and statements' period (its last is ``as_of``)."""
    log_position: int
    """The last log position the export holds: the chain head's."""
    events: int
    head_link: str
    """The chain link at ``log_position`` (empty: the store has no chain)."""
    statements: int
    files: int
    """Files listed in the manifest with their SHA-256."""
    manifest_sha256: str
    verify: VerifyReport


@attrs.frozen(kw_only=True)
class PackMismatch:
    """One thing in a pack that is not what its manifest or its export says."""

    file: str
    """The pack's file concerned, relative to the pack (``export/InvoiceIssued.parquet``)."""
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@attrs.frozen(kw_only=True)
class AuditPackCheck:
    """What ``check_audit_pack`` found: nothing wrong when ``mismatches`` is empty."""

    directory: str
    log_position: int
    head_link: str
    events: int
    """Events read back from the pack's export."""
    files_checked: int
    """Files hashed against the manifest."""
    figures_checked: int
    """Figure files compared with the figures recomputed from the export."""
    mismatches: tuple[PackMismatch, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches


# Figures --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Figures:
    """Every figure of a pack as JSON-ready data, by the file that holds it."""

    files: dict[str, JsonData]
    """Relative path -> data: the ageing, worklist, KPIs and one file per statement."""
    statements: list[dict[str, JsonData]]
    """Per statement, its customer and file (in the manifest)."""
    policies: dict[str, JsonData]
    """The escalation policy in force on the as-of date, and every version with its date."""


def period_of(as_of: date) -> tuple[date, date]:
    """The period of a pack's KPIs and statements."""
    return kpis.trailing_period(as_of, KPI_MONTHS)


def figures(
    events: Iterable[Event],
    as_of: date,
    known_at: datetime | None,
    as_of_log: JsonData = None,
) -> Figures:
    """Every figure of a pack from a log, folded once (as known at ``known_at``); each figure
    that names the log point it reflects names ``as_of_log`` (the manifest's: the export is
    the log up to that point)."""
    from_on, to_on = period_of(as_of)
    state = statement_projection.fold_all(events, known_at=known_at)
    facts = state.portfolio
    policy = facts.policy_on(as_of)
    files: dict[str, JsonData] = {
        "ageing_portfolio.json": to_data(ageing_report(facts, as_of)),
        "ageing_customer.json": to_data(
            ageing_report(facts, as_of, grouping=ageing.AgeingGrouping.CUSTOMER)
        ),
        "worklist.json": to_data(
            Worklist(
                as_of=as_of,
                owner=None,
                policy_version=policy.version,
                items=tuple(escalation.worklist(facts, as_of)),
            )
        ),
        "kpis.json": to_data(kpis.kpi_report(facts, from_on, to_on)),
    }
    listed: list[dict[str, JsonData]] = []
    customers = sorted(facts.customers.values(), key=lambda customer: customer.customer_code)
    for customer in customers:
        found = statement_projection.statement_of_account(
            state, customer.customer_id, from_on, to_on
        )
        if found.closing_balance_minor == 0 and not found.lines:
            continue
        path = f"{STATEMENTS_FOLDER}/{len(listed) + 1:05d}.json"
        files[path] = to_data(found)
        listed.append({"customer_code": customer.customer_code, "file": path})
    for data in files.values():
        if isinstance(data, dict) and "as_of_log" in data:
            data["as_of_log"] = as_of_log
    policies: dict[str, JsonData] = {
        "in_force": to_data(policy),
        "versions": to_data(facts.policy_versions),
    }
    return Figures(files=files, statements=listed, policies=policies)


# Writing --------------------------------------------------------------------------------------


def pack_target(directory: Path) -> None:
    """Refuse a folder a pack may not be written to: a file, or a folder holding anything."""
    if directory.is_symlink() or (directory.exists() and not directory.is_dir()):
        raise AuditPackError(
            f"{directory} is a file or a symbolic link, not a folder: name a new or empty "
            "folder; nothing was written",
            directory=str(directory),
        )
    if directory.exists() and any(directory.iterdir()):
        raise AuditPackError(
            f"{directory} is not empty: an audit pack goes into a new or empty folder; "
            "nothing was written",
            directory=str(directory),
        )


def require_decodable(directory: Path, verify: VerifyReport) -> None:
    """Refuse to pack a log verify could not decode: its export cannot be written (a pack of
    the rest would not be the log). Other findings are packed, in ``verify.json``."""
    undecodable = [f for f in verify.findings if f.kind is FindingKind.DECODE]
    if undecodable:
        raise AuditPackError(
            f"the log holds records that do not decode ({undecodable[0]}; "
            f"{len(undecodable)} in all): no export of it can be packed; run `arledger "
            "verify` for every finding; nothing was written",
            directory=str(directory),
        )


def write_pack(
    directory: Path,
    *,
    as_of: date,
    known_at: datetime | None,
    stamped_by: datetime | None = None,
    verify: VerifyReport,
    events: Iterable[Event],
    log_position: int,
    as_of_log: JsonData = None,
    store: str,
    created_at: datetime,
) -> AuditPack:
    """Write the pack of ``events`` (the log of ``store`` up to ``log_position``, which
    ``verify`` checked) into ``directory`` (checked by ``pack_target`` first): built in a
    hidden folder beside it and renamed into place once complete, so a failure leaves nothing
    behind."""
    require_date("as_of", as_of)
    require_known_at(known_at)
    from_on, to_on = period_of(as_of)
    directory.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
    try:
        rows = columnar.write_parquet(events, partial / EXPORT_FOLDER)
        # The figures from the files just written, as the check will compute them.
        log = columnar.read_parquet(partial / EXPORT_FOLDER)
        found = figures(columnar.from_columnar(log), as_of, stamped_by, as_of_log)
        (partial / STATEMENTS_FOLDER).mkdir(mode=0o700)
        for path, data in found.files.items():
            _write_json(partial / path, data)
        _write_json(partial / VERIFY_FILE, _verify_data(verify))
        hashes = _hashes(partial)
        events_written = sum(count for name, count in rows.items() if name != "ids")
        manifest: dict[str, JsonData] = {
            "format": PACK_FORMAT,
            "format_version": PACK_FORMAT_VERSION,
            "arledger_version": metadata.version("arledger"),
            "created_at": created_at.isoformat(),
            "store": store,
            "as_of": as_of.isoformat(),
            "known_at": None if known_at is None else known_at.isoformat(),
            "stamped_by": None if stamped_by is None else stamped_by.isoformat(),
            "period": {
                "from_on": from_on.isoformat(),
                "to_on": to_on.isoformat(),
                "rule": f"the {KPI_MONTHS} months ending on as_of (KPIs and statements)",
            },
            "log_position": log_position,
            "as_of_log": as_of_log,
            "events": events_written,
            "chain_head": {"position": verify.head_position, "link": verify.head_link},
            "verify_ok": verify.ok,
            "policies": found.policies,
            "figures": [path for path in sorted(found.files) if "/" not in path],
            "statements": list(found.statements),
            "files": [{"path": path, "sha256": digest} for path, digest in hashes.items()],
        }
        manifest_text = _write_json(partial / MANIFEST, manifest)
        partial.chmod(0o700)
        try:
            # Replaces nothing, or an empty folder (rename's own rule: a folder that was filled
            # meanwhile is refused, not merged).
            partial.rename(directory)
        except OSError as error:
            raise AuditPackError(
                f"{directory} cannot take the pack ({error.strerror}): it was filled or "
                "replaced meanwhile; nothing was written",
                directory=str(directory),
            ) from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return AuditPack(
        directory=str(directory),
        as_of=as_of,
        known_at=known_at,
        period_from_on=from_on,
        log_position=log_position,
        events=events_written,
        head_link=verify.head_link,
        statements=len(found.statements),
        files=len(hashes),
        manifest_sha256=hashlib.sha256(manifest_text).hexdigest(),
        verify=verify,
    )


def _verify_data(verify: VerifyReport) -> dict[str, JsonData]:
    data = to_data(verify)
    assert isinstance(data, dict)
    return {**data, "ok": verify.ok, "findings_text": [str(f) for f in verify.findings]}


def _write_json(path: Path, data: JsonData) -> bytes:
    text = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    return text


def _files(folder: Path) -> Iterator[str]:
    """Every file of a pack but its manifest, as paths relative to it, in sorted order."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path != folder / MANIFEST:
            yield path.relative_to(folder).as_posix()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hashes(folder: Path) -> dict[str, str]:
    return {relative: _sha256(folder / relative) for relative in _files(folder)}


# Checking -------------------------------------------------------------------------------------


def check_audit_pack(directory: Path) -> AuditPackCheck:
    """Check a pack from its folder alone: each file's hash, then every figure recomputed from
    the pack's export. Raises ``AuditPackError`` when the folder is not a pack."""
    manifest = _read_manifest(directory)
    mismatches: list[PackMismatch] = []
    listed = _listed_files(directory, manifest)
    present = set(_files(directory))
    for path, digest in listed.items():
        if not _inside(path):
            mismatches.append(PackMismatch(file=path, message="not a path inside the pack"))
        elif path not in present:
            mismatches.append(PackMismatch(file=path, message="missing (listed in the manifest)"))
        elif _sha256(directory / path) != digest:
            mismatches.append(
                PackMismatch(
                    file=path, message="its SHA-256 differs from the manifest's: it was changed"
                )
            )
    mismatches.extend(
        PackMismatch(file=path, message="not listed in the manifest: added to the pack")
        for path in sorted(present - set(listed))
    )
    as_of, known_at = _cut_of(directory, manifest)
    head = manifest.get("chain_head")
    head_link = head.get("link", "") if isinstance(head, dict) else ""
    position = manifest.get("log_position")
    result = AuditPackCheck(
        directory=str(directory),
        log_position=position if isinstance(position, int) else 0,
        head_link=head_link if isinstance(head_link, str) else "",
        events=0,
        files_checked=len(listed),
        figures_checked=0,
        mismatches=(),
    )
    try:
        log = columnar.read_parquet(directory / EXPORT_FOLDER)
        recomputed = figures(
            columnar.from_columnar(log), as_of, known_at, manifest.get("as_of_log")
        )
    except Exception as error:  # any fault of a changed export is a finding, not a crash
        mismatches.append(
            PackMismatch(
                file=EXPORT_FOLDER,
                message=f"the figures cannot be recomputed from it: {_fault(error)}",
            )
        )
        return attrs.evolve(result, mismatches=tuple(mismatches))
    if log.event_count != manifest.get("events"):
        mismatches.append(
            PackMismatch(
                file=EXPORT_FOLDER,
                message=f"holds {log.event_count} event(s), the manifest says "
                f"{manifest.get('events')!r}",
            )
        )
    expected_in_manifest: dict[str, JsonData] = {
        "policies": recomputed.policies,
        "statements": list(recomputed.statements),
    }
    for key, expected in expected_in_manifest.items():
        mismatches.extend(
            PackMismatch(file=MANIFEST, message=f"{key}{line}")
            for line in _differences(manifest.get(key), expected)
        )
    for path, expected in recomputed.files.items():
        stored = _read_json(directory / path)
        if stored is _UNREADABLE:
            if path in present:
                mismatches.append(PackMismatch(file=path, message="not readable as JSON"))
            elif path not in listed:
                mismatches.append(
                    PackMismatch(file=path, message="missing (the export gives this figure)")
                )
            continue
        mismatches.extend(
            PackMismatch(file=path, message=line.lstrip("."))
            for line in _differences(stored, expected)
        )
    mismatches.extend(_verify_mismatches(directory, manifest))
    return attrs.evolve(
        result,
        events=log.event_count,
        figures_checked=len(recomputed.files),
        mismatches=tuple(mismatches),
    )


def _inside(path: str) -> bool:
    """Whether a path the manifest lists names a file in the pack (not above or beside it):
    the check reads only the pack."""
    parts = PurePosixPath(path).parts
    return bool(parts) and not PurePosixPath(path).is_absolute() and ".." not in parts


def _fault(error: Exception) -> str:
    """What went wrong reading or folding an export, in a line: a broken invariant of the
    ledger's folds (an assertion, which carries no message) is named as such."""
    first = (str(error).splitlines() or [""])[0][:200]
    if isinstance(error, AssertionError):
        return "its events break an invariant of the ledger" + (f" ({first})" if first else "")
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


_UNREADABLE: Final = object()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return _UNREADABLE


def _read_manifest(directory: Path) -> dict[str, Any]:
    manifest = _read_json(directory / MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT:
        raise AuditPackError(
            f"{directory} is not an audit pack: no readable {MANIFEST} of an arledger pack",
            directory=str(directory),
        )
    if manifest.get("format_version") != PACK_FORMAT_VERSION:
        raise AuditPackError(
            f"{directory} is an audit pack of format {manifest.get('format_version')!r}; this "
            f"arledger checks format {PACK_FORMAT_VERSION}",
            directory=str(directory),
        )
    return manifest


def _listed_files(directory: Path, manifest: Mapping[str, Any]) -> dict[str, str]:
    entries = manifest.get("files")
    listed: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else ():
        path = entry.get("path") if isinstance(entry, dict) else None
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(path, str) or not isinstance(digest, str):
            raise AuditPackError(
                f"{directory}/{MANIFEST}: a file entry without a path and SHA-256: {entry!r}",
                directory=str(directory),
            )
        listed[path] = digest
    return listed


def _cut_of(directory: Path, manifest: Mapping[str, Any]) -> tuple[date, datetime | None]:
    """The pack's as-of date, and the instant its figures count events stamped by (only when
    its ``known_at`` could not be resolved to a log position by commit instants: the export
    already ends at the position committed by then)."""
    as_of, known_at = manifest.get("as_of"), manifest.get("stamped_by")
    cut: datetime | None = None
    try:
        day = date.fromisoformat(as_of) if isinstance(as_of, str) else None
        if isinstance(known_at, str):
            cut = datetime.fromisoformat(known_at)
    except ValueError:
        day = None
    if day is None or (known_at is not None and (cut is None or cut.utcoffset() is None)):
        raise AuditPackError(
            f"{directory}/{MANIFEST}: as_of {as_of!r} or stamped_by {known_at!r} is not a date "
            "or an instant with its offset",
            directory=str(directory),
        )
    return day, cut


def _verify_mismatches(directory: Path, manifest: Mapping[str, Any]) -> Iterator[PackMismatch]:
    """The verify result cannot be recomputed without the store; it must at least be of the
    chain head the manifest names."""
    verify = _read_json(directory / VERIFY_FILE)
    head = manifest.get("chain_head")
    if not isinstance(verify, dict) or not isinstance(head, dict):
        yield PackMismatch(file=VERIFY_FILE, message="missing or not the result of a verify")
        return
    for field, name in (("head_link", "link"), ("head_position", "position")):
        if verify.get(field) != head.get(name):
            yield PackMismatch(
                file=VERIFY_FILE,
                message=f"{field} {_shown(verify.get(field))} is not the manifest's chain head "
                f"{name} {_shown(head.get(name))}",
            )


def _differences(stored: Any, expected: Any, where: str = "") -> Iterator[str]:
    """One line per difference (``where``: the path to it), at most
    ``MISMATCHES_PER_FILE_MAX`` and then a count of the rest."""
    found = list(_walk(stored, expected, where))
    yield from found[:MISMATCHES_PER_FILE_MAX]
    if len(found) > MISMATCHES_PER_FILE_MAX:
        yield f" and {len(found) - MISMATCHES_PER_FILE_MAX} more difference(s)"


def _walk(stored: Any, expected: Any, where: str) -> Iterator[str]:
    if isinstance(stored, dict) and isinstance(expected, dict):
        for key in [*expected, *(key for key in stored if key not in expected)]:
            if key not in stored:
                yield f"{where}.{key}: missing; the export gives {_shown(expected[key])}"
            elif key not in expected:
                yield f"{where}.{key}: not a figure the export gives"
            else:
                yield from _walk(stored[key], expected[key], f"{where}.{key}")
        return
    if isinstance(stored, list) and isinstance(expected, list):
        if len(stored) != len(expected):
            yield f"{where}: {len(stored)} item(s) in the pack, {len(expected)} from the export"
            return
        for index, (one, other) in enumerate(zip(stored, expected, strict=True)):
            yield from _walk(one, other, f"{where}[{index}]")
        return
    if type(stored) is not type(expected) or stored != expected:
        yield f"{where}: the pack says {_shown(stored)}, the export gives {_shown(expected)}"


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= VALUE_TEXT_MAX else text[: VALUE_TEXT_MAX - 3] + "..."
