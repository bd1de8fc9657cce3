"""Commands to and from JSON: a service accepts them as data, logs them, and hashes them.

One command is a JSON object ``{"command": "IssueInvoice", ...its fields}``, with the
decisions of the event converter (``arledger.adapters.persistence.serialization``): enums by
value, dates as ISO ``YYYY-MM-DD``, ``Money`` as ``{"amount_minor": 1200, "currency": "USD"}``.
Unknown commands and unknown or missing fields are refused (``CommandFormatError``), never
ignored. ``content_digest`` is the one canonical form of a list of commands, what an
idempotency key is held to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Final

import cattrs

from arledger.adapters.persistence.serialization import make_converter
from arledger.domain.commands import ALL_COMMANDS, Command
from arledger.domain.errors import CommandFormatError

COMMAND_FIELD: Final = "command"
"""The key naming the command's class in its JSON object."""

_CONVERTER: Final = make_converter()

_BY_NAME: Final[dict[str, type[Command]]] = {cls.__name__: cls for cls in ALL_COMMANDS}


def to_data(command: Command) -> dict[str, Any]:
    """JSON-ready data for one command (``json.dumps`` takes it as it is)."""
    cls = type(command)
    assert _BY_NAME.get(cls.__name__) is cls, f"not a registered command: {cls!r}"
    data: dict[str, Any] = _CONVERTER.unstructure(command, cls)
    return {COMMAND_FIELD: cls.__name__, **data}


def from_data(data: object) -> Command:
    """The command a JSON object describes; ``CommandFormatError`` if it describes none."""
    if not isinstance(data, dict):
        raise CommandFormatError(
            f"a command is a JSON object, got {type(data).__name__}", command_name=None
        )
    fields = dict(data)
    name = fields.pop(COMMAND_FIELD, None)
    cls = _BY_NAME.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CommandFormatError(
            f"unknown command {name!r}; expected one of {sorted(_BY_NAME)}",
            command_name=name if isinstance(name, str) else None,
        )
    try:
        return _CONVERTER.structure(fields, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as error:
        reason = (
            "; ".join(cattrs.transform_error(error))
            if isinstance(error, cattrs.BaseValidationError)
            else str(error)
        )
        raise CommandFormatError(
            f"malformed {name} command: {reason}", command_name=name
        ) from error


def dumps(command: Command) -> str:
    """One command as a line of JSON."""
    return json.dumps(to_data(command), sort_keys=True, separators=(",", ":"))


def loads(text: str | bytes) -> Command:
    """The command in a JSON text."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise CommandFormatError(f"not JSON: {error}", command_name=None) from error
    return from_data(data)


def content_digest(commands: Sequence[Command]) -> str:
    """SHA-256 (hex) of the commands' canonical JSON, in order: equal exactly when the commands
    are equal field for field."""
    canonical = json.dumps(
        [to_data(command) for command in commands],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
