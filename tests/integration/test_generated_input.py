"""The synthetic ledgers obey the domain's rules for text and dates (issue 9.11, 9.13).

The generator writes its events in bulk, without the decide functions that check every key,
name, note and date of a command; the demo goes through them. Every event either makes is
checked here field by field with the domain's own rules (``domain/text.py``, ``rules``), so a
generated ledger holds nothing a command would refuse.
"""

from __future__ import annotations

import typing
from datetime import date, datetime
from typing import Any

import attrs
import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.adapters.read_models import columnar
from arledger.adapters.synthetic import generate
from arledger.adapters.synthetic.demo import generate_demo, record_demo
from arledger.domain.events import (
    ALL_EVENTS,
    AuthorityPolicyAdopted,
    EscalationPolicyAdopted,
    Event,
)
from arledger.domain.money import check_currency
from arledger.domain.rules import require_date
from arledger.domain.text import require_key, require_person, require_text

Rule = typing.Callable[[str, str], object]

RULES: dict[str, Rule] = {
    # Business keys.
    "customer_code": require_key,
    "invoice_number": require_key,
    "bank_reference": require_key,
    "credit_note_number": require_key,
    "confirmation_reference": require_key,
    "dispute_reference": require_key,
    "promise_reference": require_key,
    "superseded_by": require_key,
    "reference": require_key,  # what resolved a reconciliation item ("" when accepted)
    "request_reference": require_key,  # a reduction request
    "settlement_reference": require_key,
    "unit": require_key,
    # People the ledger groups and filters by.
    "collection_owner": require_person,
    "collector": require_person,
    "approver": require_person,
    "received_by": require_person,
    "received_by_finance": require_person,
    "requested_by": require_person,
    "rejected_by": require_person,
    "appraiser": require_person,
    "set_by": require_person,  # who set a collection target
    # Names and single-line text.
    "name": require_text,
    "contact": require_text,
    "phone": require_text,
    "email": require_text,
    "contract_reference": require_text,
    "source": require_text,  # where an exchange rate came from
    "goods": require_text,
    # Notes.
    "reason": lambda field, value: require_text(field, value, length_max=2000, multiline=True),
    "note": lambda field, value: require_text(field, value, length_max=2000, multiline=True),
    "outcome": lambda field, value: require_text(field, value, length_max=2000, multiline=True),
    "next_step": lambda field, value: require_text(field, value, length_max=2000, multiline=True),
    "root_cause": lambda field, value: require_text(field, value, length_max=2000, multiline=True),
    "currency": lambda _field, value: check_currency(value),
    "from_currency": lambda _field, value: check_currency(value),
    "to_currency": lambda _field, value: check_currency(value),
}
OPTIONAL = frozenset({"phone", "email", "contract_reference", "next_step", "reference"})
"""Text fields an event may leave empty ("" for none)."""
RULES_OPTIONAL: dict[str, Rule] = {"second_approver": require_person}
"""Text fields an event may leave out (None): checked when given."""


def text_fields() -> set[str]:
    names = set()
    for cls in ALL_EVENTS:
        hints = typing.get_type_hints(cls)
        names |= {field.name for field in attrs.fields(cls) if hints[field.name] is str}
    return names


def test_every_text_field_of_every_event_has_a_rule_here() -> None:
    assert text_fields() == set(RULES)


def check_event(event: Event) -> int:
    """Check every text and date of ``event`` with the domain's rules; returns how many."""
    checked = 0
    for field in attrs.fields(type(event)):
        value: Any = getattr(event, field.name)
        if isinstance(value, str):
            if value or field.name not in OPTIONAL:
                rule = RULES.get(field.name) or RULES_OPTIONAL[field.name]
                rule(field.name, value)
                checked += 1
        elif isinstance(value, date) and not isinstance(value, datetime):
            require_date(field.name, value)
            checked += 1
    for instalment in getattr(event, "instalments", ()):
        require_date("instalment due_on", instalment.due_on)
    if isinstance(event, EscalationPolicyAdopted):
        for level in event.policy.levels:
            require_text("level name", level.name)
    if isinstance(event, AuthorityPolicyAdopted):
        for entry in event.policy.approvers:
            require_person("approver", entry.approver)
            require_person("role", entry.role)
    return checked


@pytest.mark.parametrize("seed", [0, 7, generate.SEED_MAX])
def test_a_generated_ledger_holds_only_keys_names_notes_and_dates_a_command_accepts(
    seed: int,
) -> None:
    events = list(columnar.from_columnar(generate.generate_columnar(3000, seed)))

    checked = sum(check_event(event) for event in events)

    assert len(events) <= checked  # every event has at least one text or date
    kinds = {type(event).__name__ for event in events}
    assert {"CustomerAccountOpened", "CollectionActionRecorded", "DisputeOpened"} <= kinds


def test_the_demo_ledger_holds_only_keys_names_notes_and_dates_a_command_accepts() -> None:
    ledger = Ledger({"ARLEDGER_STORE": "memory"})
    record_demo(ledger, generate_demo())

    events = list(ledger.iter_events())

    assert 20_000 < len(events)
    for event in events:
        check_event(event)
