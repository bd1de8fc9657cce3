"""Credit-note registrations: a credit-note number is a business key across the whole ledger.

A credit note is applied to one invoice (``CreditNoteApplied``, on the invoice); its number is
registered at the same time by a tiny aggregate of its own, keyed by a uuid5 of the number
(``ids.credit_note_id``), saved in the same transaction, as invoice numbers are kept unique by
their invoices' ids. Invariant: a number is registered once, to one invoice and one content;
the same credit note again is recognised, another content or another invoice refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from uuid import UUID

import attrs

from .events import CreditNoteRegistered, Event


@attrs.frozen(kw_only=True)
class CreditNote:
    id: UUID
    version: int
    credit_note_number: str
    invoice_id: UUID
    customer_id: UUID
    amount_minor: int
    currency: str
    applied_on: date
    reason: str

    def is_the_same(
        self,
        *,
        invoice_id: UUID,
        amount_minor: int,
        currency: str,
        applied_on: date,
        reason: str,
    ) -> bool:
        """Whether a credit note with this content is the one registered (a repeat)."""
        return (
            self.invoice_id,
            self.amount_minor,
            self.currency,
            self.applied_on,
            self.reason,
        ) == (
            invoice_id,
            amount_minor,
            currency,
            applied_on,
            reason,
        )


def evolve(state: CreditNote | None, event: Event) -> CreditNote:
    """Apply a registration; a number is registered once."""
    assert state is None, "a credit-note number is registered once"
    assert isinstance(event, CreditNoteRegistered), f"not a credit-note event: {event!r}"
    assert event.originator_version == 1
    return CreditNote(
        id=event.originator_id,
        version=event.originator_version,
        credit_note_number=event.credit_note_number,
        invoice_id=event.invoice_id,
        customer_id=event.customer_id,
        amount_minor=event.amount_minor,
        currency=event.currency,
        applied_on=event.applied_on,
        reason=event.reason,
    )


def fold(events: Iterable[Event], state: CreditNote | None = None) -> CreditNote | None:
    for event in events:
        state = evolve(state, event)
    return state
