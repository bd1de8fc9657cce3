"""Deterministic ids: uuid5 over one namespace and the business key.

Invariant: the same business key always gives the same id, so re-submitting a command or
re-importing a file addresses the same aggregate and can be recognised as a repeat.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID, uuid5

ARLEDGER_NAMESPACE: Final = UUID("8f0c8a52-4b1e-5d7a-9f57-6a1d5e0b2c11")


def _key_id(kind: str, key: str) -> UUID:
    return uuid5(ARLEDGER_NAMESPACE, f"{kind}:{key}")


def customer_id(customer_code: str) -> UUID:
    return _key_id("customer", customer_code)


def invoice_id(invoice_number: str) -> UUID:
    return _key_id("invoice", invoice_number)


def payment_id(bank_reference: str) -> UUID:
    return _key_id("payment", bank_reference)


def credit_note_id(credit_note_number: str) -> UUID:
    """One registration per credit-note number: a number credits one invoice, once."""
    return _key_id("credit-note", credit_note_number)


def promise_id(promise_reference: str) -> UUID:
    return _key_id("promise", promise_reference)


def collection_case_id(customer_code: str) -> UUID:
    """One collection case per customer: the record of actions and diagnoses."""
    return _key_id("collection-case", customer_code)


def policy_book_id(policy_name: str = "escalation") -> UUID:
    return _key_id("policy", policy_name)


def rate_book_id() -> UUID:
    """One book of exchange rates for the ledger (``domain/exchange_rate.py``)."""
    return _key_id("exchange-rates", "book")


def idempotency_key_id(idempotency_key: str) -> UUID:
    """One record per client idempotency key (``domain/idempotency.py``)."""
    return _key_id("idempotency-key", idempotency_key)


def authority_book_id() -> UUID:
    """The one record of the authority policy's versions (approval of reductions)."""
    return _key_id("policy", "authority")


def reduction_request_id(request_reference: str) -> UUID:
    return _key_id("reduction-request", request_reference)
