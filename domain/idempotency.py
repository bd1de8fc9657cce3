"""Idempotency keys: a client's key for one call of ``Ledger.execute``, held to its content.

The first call with a key records, with the commands' events and in the same transaction, a
``CommandsAccepted`` record on a tiny aggregate of its own keyed by a uuid5 of the key
(``ids.idempotency_key_id``): the SHA-256 of the commands' canonical JSON and which events
each command answered with. A later call with the key and the same content is answered from
that record and records nothing; with other content it is refused. Invariant: a key is
accepted once, for one content.

``CommandsAccepted`` is bookkeeping, not a business fact: it is not an ``Event`` of the ledger
(not in ``ALL_EVENTS``), and the read models and queries never see it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

import attrs

from . import ids
from .errors import IdempotencyKeyConflictError
from .text import require_key


@attrs.frozen(kw_only=True)
class EventReference:
    """Where an event is in the log: its aggregate and version."""

    originator_id: UUID
    originator_version: int


@attrs.frozen(kw_only=True)
class CommandsAccepted:
    """The commands of one ``execute`` call were accepted under ``idempotency_key``."""

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    idempotency_key: str
    content_sha256: str
    """SHA-256 (hex) of the commands' canonical JSON, in order."""
    results: tuple[tuple[EventReference, ...], ...]
    """Per command, in order, the events it answered with."""
    recorded: bool
    """Whether the first call recorded events (False: every command was already done)."""


def replayed(
    existing: CommandsAccepted | None, *, idempotency_key: str, content_sha256: str
) -> bool:
    """Whether this call repeats one already accepted under the key (answer from its record).

    Raises ``IdempotencyKeyConflictError`` when the key was accepted for other content.
    """
    if existing is None:
        return False
    if existing.content_sha256 != content_sha256:
        raise IdempotencyKeyConflictError(
            f"idempotency key {idempotency_key!r} was already used for other commands",
            idempotency_key=idempotency_key,
        )
    return True


def accept(
    *,
    idempotency_key: str,
    content_sha256: str,
    results: Sequence[Sequence[EventReference]],
    recorded: bool,
    recorded_at: datetime,
) -> CommandsAccepted:
    """The record of a first call under ``idempotency_key``, to save with its events."""
    require_key("idempotency_key", idempotency_key)
    return CommandsAccepted(
        originator_id=ids.idempotency_key_id(idempotency_key),
        originator_version=1,
        timestamp=recorded_at,
        idempotency_key=idempotency_key,
        content_sha256=content_sha256,
        results=tuple(tuple(result) for result in results),
        recorded=recorded,
    )


def fold(records: Iterable[object]) -> CommandsAccepted | None:
    """The record of a key (a key is accepted once)."""
    state: CommandsAccepted | None = None
    for record in records:
        assert state is None, "an idempotency key is accepted once"
        assert isinstance(record, CommandsAccepted), f"not an idempotency record: {record!r}"
        state = record
    return state
