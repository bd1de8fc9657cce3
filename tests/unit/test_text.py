"""Text the ledger records (issue 9.11): keys, names and free text that print as what they are.

Given a command with text that is not Unicode scalar values, holds control characters, or (in a
key) invisible or decomposed characters, the decide function raises ``InvalidTextError`` naming
the field with a printable escape of the value, and returns no event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import attrs
import pytest

from arledger.domain import collection_case, customer, invoice, payment, policy_book, promise
from arledger.domain import text as text_module
from arledger.domain.customer import CustomerAccount
from arledger.domain.errors import InvalidCommandError, InvalidTextError
from arledger.domain.events import (
    ActionChannel,
    ContactRole,
    DelinquencyType,
    DisputeOutcome,
    DisputeReason,
    Event,
    RiskRating,
)
from arledger.domain.invoice import Invoice
from arledger.domain.payment import Payment
from arledger.domain.policy import DEFAULT_ESCALATION_POLICY
from arledger.domain.text import escape, require_key, require_text

AT = datetime(2026, 1, 1, tzinfo=UTC)
ON = date(2024, 1, 10)

LONE_SURROGATES = ["Bad\ud800Name", "C\udcffX", "\udfffA", "A\ud83d"]
"""Lone surrogates: what Python makes of bytes that are not UTF-8 (``C\\xffX`` in argv is
``C\\udcffX``) or of half an escaped pair; no UTF-8 encoder accepts them."""
CONTROL = ["A\x00B", "A\tB", "A\nB", "A\rB", "A\x1bB", "A\x7fB", "A\x85B"]
LINE_SEPARATORS = ["A\u2028B", "A\u2029B"]
BIDI_CONTROLS = ["A\u202aB", "A\u202bB", "A\u202cB", "A\u202dB", "A\u202eB", "A\u2066B", "A\u2069B"]
INVISIBLE_IN_KEYS = [
    "INV-1\u200b",  # zero-width space: prints as INV-1
    "INV\u200c-1",  # zero-width non-joiner
    "INV\u200d-1",  # zero-width joiner
    "INV-\u20601",  # word joiner
    "\ufeffINV-1",  # byte-order mark
    "INV\u00ad-1",  # soft hyphen
    "INV-1\u200e",  # left-to-right mark
    "INV\u00a01",  # no-break space: prints as "INV 1"
    "INV\u30001",  # ideographic space
    "INV-\ue0001",  # private use
]
NOT_NFC = ["CAFE\u0301", "Mu\u0308ller"]  # É and ü decomposed: print as CAFÉ and Müller


def account() -> CustomerAccount:
    state = customer.fold(open_account())
    assert state is not None
    return state


def open_account(**fields: Any) -> list[Event]:
    command: dict[str, Any] = {
        "customer_code": "C1",
        "name": "Acme Trading",
        "currency": "USD",
        "collection_owner": "li",
        "opened_on": date(2024, 1, 1),
        "recorded_at": AT,
        **fields,
    }
    return customer.open_account(None, **command)


def issued_invoice() -> Invoice:
    events = issue_invoice()
    state = invoice.fold(events[:1])
    assert state is not None
    return state


def issue_invoice(**fields: Any) -> list[Event]:
    command: dict[str, Any] = {
        "invoice_number": "INV-1",
        "customer_code": "C1",
        "amount_minor": 10000,
        "currency": "USD",
        "issued_on": ON,
        "recorded_at": AT,
        **fields,
    }
    return invoice.issue_invoice(None, account(), **command)


def received_payment() -> Payment:
    state = payment.fold(receive_payment())
    assert state is not None
    return state


def receive_payment(**fields: Any) -> list[Event]:
    command: dict[str, Any] = {
        "bank_reference": "BANK-1",
        "payer_code": "C1",
        "amount_minor": 500,
        "currency": "USD",
        "value_on": ON,
        "recorded_at": AT,
        **fields,
    }
    return payment.receive_payment(None, account(), **command)


def make_promise(**fields: Any) -> list[Event]:
    command: dict[str, Any] = {
        "promise_reference": "P-1",
        "amount_minor": 500,
        "currency": "USD",
        "promised_on": ON,
        "made_on": ON,
        "contact": "Mr Wu",
        "recorded_at": AT,
        **fields,
    }
    # Naming the invoice, open for 100.00 on the day: no promise may be larger (issue 9.6).
    return promise.make_promise(None, account(), invoices=[issued_invoice()], **command)


def record_action(**fields: Any) -> list[Event]:
    command: dict[str, Any] = {
        "channel": ActionChannel.PHONE,
        "taken_on": ON,
        "collector": "li",
        "contact": "Mr Wu",
        "outcome": "promised to pay",
        "recorded_at": AT,
        **fields,
    }
    return collection_case.record_action(None, account(), **command)


def on_account(decide: Callable[..., list[Event]]) -> Callable[..., list[Event]]:
    return lambda **fields: decide(account(), recorded_at=AT, **fields)


def on_invoice(decide: Callable[..., list[Event]]) -> Callable[..., list[Event]]:
    return lambda **fields: decide(issued_invoice(), recorded_at=AT, **fields)


def apply_credit_note(**fields: Any) -> list[Event]:
    """A credit note on INV-1 whose number is new to the ledger, approved by the cfo."""
    return invoice.apply_credit_note(
        issued_invoice(),
        account(),
        None,
        currency="USD",
        recorded_at=AT,
        **{
            "approver": "cfo",
            **fields,
        },
    )


def resolve_dispute(**fields: Any) -> list[Event]:
    """Resolve a dispute on INV-1; an upheld one's credit-note number is new to the ledger."""
    return invoice.resolve_dispute(issued_invoice(), registered=None, recorded_at=AT, **fields)


# Every decide function with a text argument, the argument and the rule it follows.
KEY_ARGUMENTS: dict[str, tuple[Callable[..., list[Event]], dict[str, Any], str]] = {
    "customer code": (open_account, {}, "customer_code"),
    "collection owner": (open_account, {}, "collection_owner"),
    "new collection owner": (
        on_account(customer.change_owner),
        {"changed_on": ON},
        "collection_owner",
    ),
    "invoice number": (issue_invoice, {}, "invoice_number"),
    "bank reference": (receive_payment, {}, "bank_reference"),
    "credit line approver": (
        on_account(customer.set_credit_line),
        {"amount_minor": 100, "effective_on": ON, "reason": "r"},
        "approver",
    ),
    "confirmation reference": (
        on_account(customer.send_balance_confirmation),
        {
            "balance_as_of": ON,
            "ledger_balance_minor": 0,
            "sent_on": ON,
            "statement_from_on": ON,
            "statement_lines": 0,
        },
        "confirmation_reference",
    ),
    "acknowledged confirmation reference": (
        on_account(customer.acknowledge_balance_confirmation),
        {"confirmed_balance_minor": 0, "acknowledged_on": ON},
        "confirmation_reference",
    ),
    "credit note number": (
        apply_credit_note,
        {"amount_minor": 100, "applied_on": ON, "reason": "damaged"},
        "credit_note_number",
    ),
    "credit note approver": (
        apply_credit_note,
        {"credit_note_number": "CN-1", "amount_minor": 100, "applied_on": ON, "reason": "r"},
        "approver",
    ),
    "concession approver": (
        on_invoice(invoice.approve_concession),
        {"amount_minor": 100, "approved_on": ON, "reason": "goodwill"},
        "approver",
    ),
    "write-off approver": (
        on_invoice(invoice.write_off),
        {"written_off_on": ON, "reason": "insolvent"},
        "approver",
    ),
    "dispute reference": (
        on_invoice(invoice.open_dispute),
        {
            "amount_minor": 100,
            "reason_code": DisputeReason.QUALITY,
            "root_cause": "scratched",
            "opened_on": ON,
        },
        "dispute_reference",
    ),
    "resolved dispute reference": (
        resolve_dispute,
        {"outcome": DisputeOutcome.REJECTED, "resolved_on": ON, "note": "n"},
        "dispute_reference",
    ),
    "promise reference": (make_promise, {}, "promise_reference"),
    "collector": (record_action, {}, "collector"),
    "policy approver": (
        lambda **fields: policy_book.adopt_policy(None, recorded_at=AT, **fields),
        {
            "policy": attrs.evolve(DEFAULT_ESCALATION_POLICY, version=2),
            "effective_on": ON,
            "reason": "r",
        },
        "approver",
    ),
}
TEXT_ARGUMENTS: dict[str, tuple[Callable[..., list[Event]], dict[str, Any], str]] = {
    "customer name": (open_account, {}, "name"),
    "contract reference": (issue_invoice, {}, "contract_reference"),
    "contact name": (
        on_account(customer.set_key_contact),
        {"role": ContactRole.ACCEPTOR, "set_on": ON},
        "name",
    ),
    "contact phone": (
        on_account(customer.set_key_contact),
        {"role": ContactRole.ACCEPTOR, "name": "Mr Wu", "set_on": ON},
        "phone",
    ),
    "contact email": (
        on_account(customer.set_key_contact),
        {"role": ContactRole.ACCEPTOR, "name": "Mr Wu", "set_on": ON},
        "email",
    ),
    "promise contact": (make_promise, {}, "contact"),
    "action contact": (record_action, {}, "contact"),
}
NOTE_ARGUMENTS: dict[str, tuple[Callable[..., list[Event]], dict[str, Any], str]] = {
    "credit line reason": (
        on_account(customer.set_credit_line),
        {"amount_minor": 100, "effective_on": ON, "approver": "cfo"},
        "reason",
    ),
    "risk rating reason": (
        on_account(customer.rate_risk),
        {"rating": RiskRating.B, "rated_on": ON},
        "reason",
    ),
    "blacklist reason": (on_account(customer.blacklist), {"blacklisted_on": ON}, "reason"),
    "supply hold reason": (
        on_account(customer.hold_supply),
        {"held_on": ON, "by_policy": False},
        "reason",
    ),
    "credit note reason": (
        apply_credit_note,
        {"credit_note_number": "CN-1", "amount_minor": 100, "applied_on": ON},
        "reason",
    ),
    "write-off reason": (
        on_invoice(invoice.write_off),
        {"written_off_on": ON, "approver": "cfo"},
        "reason",
    ),
    "dispute root cause": (
        on_invoice(invoice.open_dispute),
        {
            "dispute_reference": "D-1",
            "amount_minor": 100,
            "reason_code": DisputeReason.QUALITY,
            "opened_on": ON,
        },
        "root_cause",
    ),
    "reversal reason": (
        lambda **fields: payment.reverse_payment(received_payment(), [], recorded_at=AT, **fields),
        {"reversed_on": ON},
        "reason",
    ),
    "action outcome": (record_action, {}, "outcome"),
    "action next step": (record_action, {}, "next_step"),
    "diagnosis note": (
        lambda **fields: collection_case.diagnose(None, account(), recorded_at=AT, **fields),
        {"delinquency_type": DelinquencyType.ACCIDENT, "diagnosed_on": ON},
        "note",
    ),
    "policy reason": (
        lambda **fields: policy_book.adopt_policy(None, recorded_at=AT, **fields),
        {
            "policy": attrs.evolve(DEFAULT_ESCALATION_POLICY, version=2),
            "effective_on": ON,
            "approver": "cfo",
        },
        "reason",
    ),
}
ALL_ARGUMENTS = {**KEY_ARGUMENTS, **TEXT_ARGUMENTS, **NOTE_ARGUMENTS}


def refused(
    case: tuple[Callable[..., list[Event]], dict[str, Any], str], value: str
) -> InvalidTextError:
    decide, fields, field = case
    with pytest.raises(InvalidTextError) as raised:
        decide(**{**fields, field: value})
    assert field == raised.value.field
    assert isinstance(raised.value, InvalidCommandError)
    assert raised.value.value.isprintable()
    raised.value.value.encode("utf-8")  # printable and encodable, whatever the text held
    raised.value.message.encode("utf-8")
    return raised.value


@pytest.mark.parametrize("argument", list(ALL_ARGUMENTS))
@pytest.mark.parametrize("value", LONE_SURROGATES + CONTROL[:2] + ["A\x7fB"])
def test_every_text_argument_refuses_lone_surrogates_and_control_characters(
    argument: str, value: str
) -> None:
    error = refused(ALL_ARGUMENTS[argument], value)

    assert escape(value) == error.value


@pytest.mark.parametrize("argument", list(KEY_ARGUMENTS) + list(TEXT_ARGUMENTS))
@pytest.mark.parametrize("value", CONTROL + LINE_SEPARATORS + BIDI_CONTROLS)
def test_keys_and_names_refuse_tabs_newlines_separators_and_direction_overrides(
    argument: str, value: str
) -> None:
    refused({**KEY_ARGUMENTS, **TEXT_ARGUMENTS}[argument], value)


@pytest.mark.parametrize("argument", list(KEY_ARGUMENTS))
@pytest.mark.parametrize("value", INVISIBLE_IN_KEYS + NOT_NFC)
def test_keys_refuse_invisible_characters_and_decomposed_letters(argument: str, value: str) -> None:
    refused(KEY_ARGUMENTS[argument], value)


def test_the_invisible_twin_of_an_invoice_number_is_refused_not_a_second_invoice() -> None:
    assert issue_invoice(invoice_number="INV-1")

    with pytest.raises(InvalidTextError) as raised:
        issue_invoice(invoice_number="INV-1\u200b")
    assert "invoice_number" == raised.value.field
    assert "INV-1\\u200b" == raised.value.value
    assert "U+200B" in raised.value.message


@pytest.mark.parametrize("argument", list(NOTE_ARGUMENTS))
@pytest.mark.parametrize("value", ["A\tB", "A\r\nB", "A\rB", "A\u2028B", "A\u202eB"])
def test_notes_refuse_tabs_carriage_returns_and_separators(argument: str, value: str) -> None:
    refused(NOTE_ARGUMENTS[argument], value)


@pytest.mark.parametrize("argument", list(NOTE_ARGUMENTS))
def test_notes_may_span_lines_separated_by_newlines(argument: str) -> None:
    decide, fields, field = NOTE_ARGUMENTS[argument]

    events = decide(**{**fields, field: "called twice\nno answer"})

    assert events
    assert "called twice\nno answer" == getattr(events[-1], field, None) or any(
        getattr(event, field, None) == "called twice\nno answer" for event in events
    )


@pytest.mark.parametrize(
    "name",
    [
        "Müller GmbH",
        "王芳贸易有限公司",
        "Acme\u00a0Ltd",  # a no-break space in free text is harmless
        "شركة الأمل",  # Arabic: the bidirectional algorithm orders it without controls
        "می\u200cخواهم",  # Persian needs the zero-width non-joiner
        "Team \U0001f469\u200d\U0001f4bb",  # an emoji sequence joined by a zero-width joiner
        'O\'Neil & "Q"',
        "CAFE\u0301",  # free text is recorded as given, in any normal form
    ],
)
def test_names_accept_the_scripts_and_spaces_people_write(name: str) -> None:
    events = open_account(name=name)

    assert name == events[0].name  # type: ignore[attr-defined]


@pytest.mark.parametrize("key", ["INV-1", "ACME 01", "王芳-7", "CAFÉ-1", "Müller/2024"])
def test_keys_accept_printable_text_in_composed_form(key: str) -> None:
    assert key == require_key("invoice_number", key)


def test_a_lone_surrogate_in_a_name_is_refused_with_its_position_and_code_point() -> None:
    with pytest.raises(InvalidTextError) as raised:
        open_account(name="Bad\ud800Name")

    assert "name" == raised.value.field
    assert "Bad\\ud800Name" == raised.value.value
    assert 3 == raised.value.position
    assert "U+D800" in raised.value.message


def test_text_that_is_not_a_string_is_an_invalid_text_error() -> None:
    with pytest.raises(InvalidTextError) as raised:
        require_text("name", b"Acme")  # type: ignore[arg-type]

    assert "name" == raised.value.field
    assert "b'Acme'" == raised.value.value


def test_the_escape_keeps_printable_text_and_spells_out_the_rest() -> None:
    assert "Müller 王" == escape("Müller 王")
    assert "a\\\\b" == escape("a\\b")
    assert "a\\tb\\nc" == escape("a\tb\nc")
    assert "\\x00\\x7f\\x85" == escape("\x00\x7f\x85")
    assert "\\u200b\\ud800\\U000e0001" == escape("\u200b\ud800\U000e0001")


def test_the_text_module_names_its_limits_once() -> None:
    from arledger.domain import rules

    assert rules.KEY_LENGTH_MAX == text_module.KEY_LENGTH_MAX
    assert rules.TEXT_LENGTH_MAX == text_module.TEXT_LENGTH_MAX
    assert rules.REASON_LENGTH_MAX == text_module.REASON_LENGTH_MAX


def test_policy_level_names_and_actions_are_text_too() -> None:
    levels = list(DEFAULT_ESCALATION_POLICY.levels)
    levels[1] = attrs.evolve(levels[1], name="remind\ud800er")
    policy = attrs.evolve(DEFAULT_ESCALATION_POLICY, version=2, levels=tuple(levels))

    with pytest.raises(InvalidTextError) as raised:
        policy_book.adopt_policy(
            None, policy=policy, effective_on=ON, approver="cfo", reason="r", recorded_at=AT
        )

    assert "levels[1].name" == raised.value.field
