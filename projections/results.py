"""Named results of the Ledger's queries that are more than one read model's row type.

``Worklist`` is the worklist with what it was asked about (as of, owner) and the policy version
that ordered it; it is a sequence of ``WorklistItem`` (most urgent first), so code that iterated
the former list keeps working. ``Explanation`` is a customer's escalation status together with
its text for people. Both are frozen attrs records, so ``arledger.to_data`` turns them into
JSON-ready data like every other result.

Invariant: a result holds only values (no state, no store); equal inputs give equal results.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import overload

import attrs

from .escalation import EscalationStatus, WorklistItem


@attrs.frozen(kw_only=True)
class Worklist(Sequence[WorklistItem]):
    """Customers needing action on ``as_of`` (level 1 and up), most urgent first, in the order
    of ``worklist_priority`` of the policy version ``policy_version`` (the one in force on
    ``as_of``); only ``owner``'s customers when an owner was asked for."""

    as_of: date
    owner: str | None
    policy_version: int
    items: tuple[WorklistItem, ...]

    @overload
    def __getitem__(self, index: int) -> WorklistItem: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[WorklistItem]: ...

    def __getitem__(self, index: int | slice) -> WorklistItem | Sequence[WorklistItem]:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[WorklistItem]:
        return iter(self.items)


@attrs.frozen(kw_only=True)
class Explanation:
    """Why a customer stands at its level on ``as_of``: the status (figures, reasons,
    suspensions, next action, history, next threshold) and ``text``, the same in words
    (``str(explanation)`` is the text)."""

    customer_code: str
    as_of: date
    status: EscalationStatus
    text: str

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(self.text.splitlines())

    def __str__(self) -> str:
        return self.text
