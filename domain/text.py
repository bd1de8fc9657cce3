"""Text the ledger records: business keys, names and notes, each with its rule.

Invariant: every string a decide function records is a sequence of Unicode scalar values (it
encodes to UTF-8) without control characters, so any report, export or terminal can print it;
and a business key prints as exactly one key: no invisible characters, composed form (NFC).

Three rules, from strict to loose:

- ``require_key``: business keys (customer codes, invoice numbers, bank references, credit-note,
  dispute, promise and confirmation references) and the names that identify a person in the
  ledger (collection owners, collectors, approvers: groupings and filters compare them;
  ``require_person``).
  Printable characters only (``str.isprintable``): no control, format (zero-width, direction
  marks and overrides, soft hyphen, byte-order mark), private-use, unassigned or surrogate code
  points, no space but the ASCII space; and in Unicode normal form C. A key in another form is
  refused, not normalised: the id is derived from the key as given, so changing it silently
  would address another aggregate than the caller named.
- ``require_text``: names and single-line text (customer and contact names, phones, emails,
  contract references). Any scalar value but control characters (tab and newline included),
  line and paragraph separators and the explicit direction controls (embeddings, overrides,
  isolates), which reorder what follows them on a report line. The zero-width (non-)joiners
  and direction marks some scripts need are accepted. Recorded as given, in any normal form.
- ``require_text(..., multiline=True)`` (``rules.require_reason``): notes (reasons, outcomes,
  next steps, root causes): as names, but lines may be separated by a newline ("\\n"; not
  "\\r").

Each refuses blank text, leading or trailing whitespace and text over its length limit.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from .errors import InvalidTextError

KEY_LENGTH_MAX: Final = 64
"""Business keys (invoice numbers, bank references, customer codes): ERP keys are short."""

TEXT_LENGTH_MAX: Final = 200
"""Names, owners, approvers, contract references."""

REASON_LENGTH_MAX: Final = 2000
"""Free-text reasons: enough for a paragraph of explanation, not for a pasted document."""

DIRECTION_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Explicit bidirectional embeddings, overrides and isolates (and their terminators): they make
the rest of a line display reordered ("Trojan source"); natural text never needs them."""

_TEXT_FORMAT_ALLOWED: Final = frozenset({"Cf", "Co", "Cn", "Zs"})
"""Categories of non-printable characters free text may hold: format characters (joiners,
direction marks) bar the direction controls, private use, unassigned, and spaces."""

_PROBLEMS: Final = {
    "Cs": "a lone surrogate, not a Unicode character (bytes that were not UTF-8?)",
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Zs": "a space other than the ASCII space",
}


def escape(value: str) -> str:
    """``value`` with every character that is not printable spelled out as Python writes it
    (``\\t``, ``\\x85``, ``\\u200b``, ``\\ud800``), and backslashes doubled: printable and
    encodable whatever ``value`` holds, and a different text always gives a different escape."""
    return "".join(
        "\\\\" if char == "\\" else char if char.isprintable() else repr(char)[1:-1]
        for char in value
    )


def require_key(field: str, value: str, *, length_max: int = KEY_LENGTH_MAX) -> str:
    """A business key (or a name identifying a person) that prints as exactly itself."""
    _require_shape(field, value, length_max)
    if not value.isprintable():
        position, char = next((i, c) for i, c in enumerate(value) if not c.isprintable())
        _refuse(field, value, position, char, "a valid key")
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        raise InvalidTextError(
            f"{field} {_quoted(value)} is not in Unicode normal form C (a letter and its accent "
            "as one character): write the key as it is composed",
            field=field,
            value=escape(value),
        )
    return value


def require_person(field: str, value: str) -> str:
    """A name that identifies a person in the ledger (collection owner, collector, approver):
    compared and grouped like a key, so a key's rules, up to ``TEXT_LENGTH_MAX`` characters."""
    return require_key(field, value, length_max=TEXT_LENGTH_MAX)


def require_text(
    field: str, value: str, *, length_max: int = TEXT_LENGTH_MAX, multiline: bool = False
) -> str:
    """Names and notes: printable scalar values; ``multiline`` allows newlines between lines."""
    _require_shape(field, value, length_max)
    if value.isprintable():
        return value
    for position, char in enumerate(value):
        if char.isprintable() or (multiline and char == "\n"):
            continue
        if unicodedata.category(char) in _TEXT_FORMAT_ALLOWED and char not in DIRECTION_CONTROLS:
            continue
        _refuse(
            field, value, position, char, "valid multi-line text" if multiline else "valid text"
        )
    return value


def _require_shape(field: str, value: str, length_max: int) -> None:
    if not isinstance(value, str):
        raise InvalidTextError(
            f"{field} must be text, got {type(value).__name__}", field=field, value=repr(value)
        )
    if len(value) > length_max:
        raise InvalidTextError(
            f"{field} is {len(value)} characters long; at most {length_max} allowed",
            field=field,
            value=escape(value[:length_max]) + "...",
            length=len(value),
            length_max=length_max,
        )
    if not value.strip():
        raise InvalidTextError(f"{field} must not be blank", field=field, value=escape(value))
    if value != value.strip():
        raise InvalidTextError(
            f"{field} {_quoted(value)} has leading or trailing spaces",
            field=field,
            value=escape(value),
        )


def _refuse(field: str, value: str, position: int, char: str, what: str) -> None:
    category = unicodedata.category(char)
    if char in DIRECTION_CONTROLS:
        problem = "a direction control, which reorders the text after it"
    elif char == "\t":
        problem = "a tab"
    elif char in "\n\r":
        problem = "a line break"
    else:
        problem = _PROBLEMS.get(category, "not printable")
    raise InvalidTextError(
        f"{field} {_quoted(value)} is not {what}: character {position + 1} "
        f"(U+{ord(char):04X}) is {problem}",
        field=field,
        value=escape(value),
        position=position,
        code_point=ord(char),
    )


def _quoted(value: str) -> str:
    return f"'{escape(value)}'"
