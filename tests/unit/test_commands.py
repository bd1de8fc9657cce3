"""Commands as data: every command class round-trips through JSON unchanged, refuses data that
describes no command, and has exactly the keyword arguments of its ``Ledger`` method."""

from __future__ import annotations

import enum
import inspect
import json
import types
import typing
from datetime import date
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.application import command_json
from arledger.adapters.application.handlers import HANDLERS
from arledger.adapters.application.ledger import Ledger
from arledger.adapters.application.session import Session
from arledger.domain import commands
from arledger.domain.authority import AuthorityPolicy
from arledger.domain.commands import ALL_COMMANDS, Command, InvoiceAmount, IssueInvoice
from arledger.domain.errors import CommandFormatError
from arledger.domain.events import Instalment, PromiseTranche
from arledger.domain.money import Money
from arledger.domain.policy import EscalationPolicy
from tests.strategies import (
    authority_policies,
    business_dates,
    escalation_policies,
    keys,
    moneys,
    texts,
)


def strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    """Any value of a command field's type."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(strategy_for(arg) for arg in typing.get_args(hint)))
    if origin is tuple:
        return st.lists(strategy_for(typing.get_args(hint)[0]), max_size=3).map(tuple)
    plain: dict[Any, st.SearchStrategy[Any]] = {
        type(None): st.none(),
        str: keys | texts,
        int: st.integers(-(10**6), 10**6),
        bool: st.booleans(),
        date: business_dates,
        Money: moneys,
        Decimal: st.decimals(allow_nan=False, allow_infinity=False, places=6),
        EscalationPolicy: escalation_policies,
        AuthorityPolicy: authority_policies(),
        Instalment: st.builds(Instalment, due_on=business_dates, amount_minor=st.integers(1)),
        InvoiceAmount: st.builds(InvoiceAmount, invoice_number=keys, amount=moneys),
        PromiseTranche: st.builds(
            PromiseTranche, promised_on=business_dates, amount_minor=st.integers(1)
        ),
    }
    if hint in plain:
        return plain[hint]
    assert isinstance(hint, type), hint
    assert issubclass(hint, enum.Enum), hint
    return st.sampled_from(hint)


def commands_of(cls: type[Command]) -> st.SearchStrategy[Command]:
    hints = typing.get_type_hints(cls, vars(commands))
    return st.builds(
        cls, **{field.name: strategy_for(hints[field.name]) for field in attrs.fields(cls)}
    )


any_command = st.one_of(*(commands_of(cls) for cls in ALL_COMMANDS))


@given(any_command)
def test_every_command_round_trips_through_json(command: Command) -> None:
    text = command_json.dumps(command)
    assert command == command_json.loads(text)
    assert json.loads(text)["command"] == type(command).__name__


@pytest.mark.parametrize("cls", ALL_COMMANDS, ids=lambda cls: cls.__name__)
def test_each_command_class_is_drawn_and_round_trips(cls: type[Command]) -> None:
    @given(commands_of(cls))
    def round_trip(command: Command) -> None:
        assert command == command_json.from_data(json.loads(command_json.dumps(command)))

    round_trip()


def test_every_command_subclass_is_listed_once() -> None:
    defined = {
        value
        for value in vars(commands).values()
        if isinstance(value, type) and issubclass(value, Command) and value is not Command
    }
    assert defined == set(ALL_COMMANDS)
    assert len(ALL_COMMANDS) == len(set(ALL_COMMANDS))


def test_every_command_has_a_handler() -> None:
    assert set(ALL_COMMANDS) == set(HANDLERS)


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


@pytest.mark.parametrize("cls", ALL_COMMANDS, ids=lambda cls: cls.__name__)
def test_each_ledger_method_takes_exactly_its_commands_fields(cls: type[Command]) -> None:
    method = getattr(Ledger, snake(cls.__name__))
    parameters = dict(inspect.signature(method).parameters)
    del parameters["self"]
    assert "idempotency_key" in parameters
    del parameters["idempotency_key"]
    assert [field.name for field in attrs.fields(cls)] == sorted(
        parameters, key=[field.name for field in attrs.fields(cls)].index
    )
    assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in parameters.values())


@pytest.mark.parametrize("cls", ALL_COMMANDS, ids=lambda cls: cls.__name__)
def test_each_session_method_is_its_command_with_the_commands_fields(
    cls: type[Command],
) -> None:
    """The session's methods are derived from the command classes (``_handled``): none is
    missing, each is named for its command and shows its fields to ``inspect``."""
    method = getattr(Session, snake(cls.__name__))
    parameters = dict(inspect.signature(method).parameters)

    assert snake(cls.__name__) == method.__name__
    assert ["self", *(field.name for field in attrs.fields(cls))] == list(parameters)
    assert all(
        p.kind is inspect.Parameter.KEYWORD_ONLY for name, p in parameters.items() if name != "self"
    )


def test_a_command_keeps_tuples_whatever_sequence_or_mapping_it_was_given() -> None:
    """A list or a mapping given (as the Ledger and the session methods accept) is kept as a
    tuple, so the command is the same hashable value, and digest, as one built with tuples."""
    amount = Money(1_00, "USD")
    from_mapping = commands.AllocatePayment(bank_reference="B-1", allocations={"I-1": amount})
    from_records = commands.AllocatePayment(
        bank_reference="B-1",
        allocations=[InvoiceAmount(invoice_number="I-1", amount=amount)],
    )
    promise = commands.MakePromise(
        customer_code="A",
        promise_reference="P-1",
        amount=amount,
        promised_on=date(2024, 2, 1),
        made_on=date(2024, 1, 1),
        contact="Wu",
        invoice_numbers=["I-1", "I-2"],
    )

    assert (InvoiceAmount(invoice_number="I-1", amount=amount),) == from_mapping.allocations
    assert from_mapping == from_records
    assert hash(from_mapping) == hash(from_records)
    assert ("I-1", "I-2") == promise.invoice_numbers
    assert command_json.content_digest([from_mapping]) == command_json.content_digest(
        [from_records]
    )


def test_the_json_form_is_documented_and_stable() -> None:
    command = IssueInvoice(
        invoice_number="INV-1",
        customer_code="ACME",
        amount=Money(120000, "USD"),
        issued_on=date(2024, 1, 10),
    )
    assert {
        "command": "IssueInvoice",
        "invoice_number": "INV-1",
        "customer_code": "ACME",
        "amount": {"amount_minor": 120000, "currency": "USD"},
        "issued_on": "2024-01-10",
        "due_on": None,
        "instalments": [],
        "contract_reference": "",
        "interest": None,  # issue 13.3: the invoice's components, none given
        "fees": None,
    } == command_json.to_data(command)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([], "JSON object"),
        ({"command": "PayEverything"}, "unknown command"),
        ({"invoice_number": "INV-1"}, "unknown command"),
        ({"command": "WriteOff", "invoice_number": "INV-1"}, "malformed WriteOff"),
        (
            {
                "command": "WriteOff",
                "invoice_number": "INV-1",
                "written_off_on": "2024-01-01",
                "reason": "gone",
                "approver": "cfo",
                "colour": "red",
            },
            "malformed WriteOff",
        ),
        (
            {
                "command": "WriteOff",
                "invoice_number": "INV-1",
                "written_off_on": "01/01/2024",
                "reason": "gone",
                "approver": "cfo",
            },
            "malformed WriteOff",
        ),
    ],
)
def test_data_that_describes_no_command_is_refused(data: object, fragment: str) -> None:
    with pytest.raises(CommandFormatError) as refused:
        command_json.from_data(data)
    assert fragment in str(refused.value)


def test_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(CommandFormatError):
        command_json.loads("{not json")


def test_the_content_digest_tells_apart_commands_that_differ_in_one_field() -> None:
    first = IssueInvoice(
        invoice_number="INV-1",
        customer_code="ACME",
        amount=Money(120000, "USD"),
        issued_on=date(2024, 1, 10),
    )
    other = attrs.evolve(first, amount=Money(120001, "USD"))
    assert command_json.content_digest([first]) == command_json.content_digest([first])
    assert command_json.content_digest([first]) != command_json.content_digest([other])
    assert command_json.content_digest([first, other]) != command_json.content_digest(
        [other, first]
    )
