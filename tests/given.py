"""Given / then helpers of the domain's unit tests: given a history of events, the aggregate
folded from it; then the events a command returned are exactly the expected ones.

Tests list only the facts: versions are numbered here (1, 2, ...), as the store would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import attrs

from arledger.domain import collection_case as case_module
from arledger.domain import customer as customer_module
from arledger.domain import invoice as invoice_module
from arledger.domain import payment as payment_module
from arledger.domain import policy_book as policy_book_module
from arledger.domain.collection_case import CollectionCase
from arledger.domain.customer import CustomerAccount
from arledger.domain.events import Event
from arledger.domain.invoice import Invoice
from arledger.domain.payment import Payment
from arledger.domain.policy_book import PolicyBook

S = TypeVar("S")


def numbered(events: Iterable[Event]) -> list[Event]:
    """The events with versions 1, 2, ... in order."""
    return [attrs.evolve(event, originator_version=n) for n, event in enumerate(events, 1)]


def _folded(fold: Callable[[list[Event]], S | None], events: Sequence[Event]) -> S:
    state = fold(numbered(events))
    assert state is not None
    return state


def given_invoice(*events: Event) -> Invoice:
    return _folded(invoice_module.fold, events)


def given_customer(*events: Event) -> CustomerAccount:
    return _folded(customer_module.fold, events)


def given_payment(*events: Event) -> Payment:
    return _folded(payment_module.fold, events)


def given_case(*events: Event) -> CollectionCase | None:
    """None for no history: a customer without a case yet."""
    return case_module.fold(numbered(events))


def given_policy_book(*events: Event) -> PolicyBook | None:
    """None for no history: only the default policy."""
    return policy_book_module.fold(numbered(events))


def then(expected: Sequence[Event], actual: Sequence[Event]) -> None:
    assert list(expected) == list(actual)
