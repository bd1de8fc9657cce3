"""The public API is typed: no ``Any`` in a public ``Ledger`` method or in anything exported from
``arledger``, and every public ``Ledger`` method is a command, a query or infrastructure.

The check reads the annotations at run time (``typing.get_type_hints``): a parameter or return
without an annotation counts as ``Any`` (it is one to mypy), and so does ``Callable[..., X]``.
It starts from ``arledger.__all__`` and walks on through every arledger class named in a
checked signature or attrs field (a query's result, its rows, their records), checking each
one's public methods and properties. Methods the eventsourcing library defines on ``Ledger``
(``save``, ``repository``, ...) are the library's API and not walked.
"""

from __future__ import annotations

import enum
import inspect
import typing
from collections.abc import Callable, Iterator
from types import FunctionType

import attrs
import pytest

import arledger
from arledger import Ledger
from arledger.adapters.application import ledger as ledger_module

QUERIES: typing.Final = ledger_module.QUERY_METHODS

COMMANDS: typing.Final = frozenset(
    {
        "acknowledge_balance_confirmation",
        "resolve_reconciliation",
        "accept_reconciliation",
        "adopt_allocation_rule",
        "adopt_authority_policy",
        "adopt_policy",
        "approve_reduction",
        "reject_reduction",
        "request_reduction",
        "allocate_payment",
        "apply_credit_note",
        "approve_concession",
        "override_due_date",  # issue 13.1: manual due-date overrides
        "approve_goods_in_lieu",  # issue 13.2: goods in lieu
        "propose_goods_in_lieu",
        "settle_goods_in_lieu",
        "blacklist",
        "change_owner",
        "change_terms",
        "set_collection_target",  # issue 14.1: monthly collection plans
        "clear_blacklist",
        "diagnose",
        "execute",  # issue 10.1: commands as data, run in one transaction
        "file_bankruptcy",  # issue 14.2: distress
        "suspect_fraud",
        "hand_over_cash",
        "hold_supply",
        "issue_invoice",
        "make_promise",
        "open_account",
        "open_dispute",
        "rate_risk",
        "receive_payment",
        "record_action",
        "record_exchange_rate",
        "reinstate",
        "release_supply",
        "resolve_dispute",
        "reverse_payment",
        "send_balance_confirmation",
        "send_letter",  # issue 15.4: writes the letter, then records it as a collection action
        "set_credit_line",
        "set_key_contact",
        "set_payment_calendar",
        "waive_negotiation",
        "withdraw_promise",
        "write_off",
    }
)
"""Record events (or refuse); typed by issue 10.1 (commands as data)."""

INFRASTRUCTURE: typing.Final = frozenset(
    {
        "audit_pack",  # issue 12.6: writes files of the store's figures, records nothing
        "check_plaintext_output",
        "build_chain",
        "close",
        "construct_env",
        "construct_factory",
        "construct_mapper",
        "encrypted",
        "projection_runner",
        "query_engine",
        "read_model_connections",
        "run",
        "save",
        "session",
        "store_description",
        "verify",
    }
)
"""Units of work, read-model machinery and the library's hooks: typed, but their results
(``Session``, ``ProjectionRunner``, ``QueryEngine``) are not walked as part of the API."""


def _is_arledger(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "arledger"


def _defined_by_arledger(cls: type, name: str) -> bool:
    owner = next(klass for klass in cls.__mro__ if name in vars(klass))
    return _is_arledger(owner)


def public_ledger_methods() -> set[str]:
    """Public methods and properties of ``Ledger`` that arledger defines (not the library)."""
    return {
        name
        for name in dir(Ledger)
        if not name.startswith("_")
        and _defined_by_arledger(Ledger, name)
        and (callable(getattr(Ledger, name)) or isinstance(getattr(Ledger, name), property))
    }


def _has_any(hint: object) -> bool:
    if hint is typing.Any:
        return True
    arguments = typing.get_args(hint)
    if typing.get_origin(hint) in (Callable, typing.Callable) and arguments[:1] == (...,):
        return True
    return any(_has_any(argument) for argument in arguments)


def _classes_in(hint: object) -> Iterator[type]:
    if isinstance(hint, type):
        yield hint
    for argument in typing.get_args(hint):
        yield from _classes_in(argument)


def _callable_of(member: object) -> Callable[..., object] | None:
    if isinstance(member, staticmethod | classmethod):
        return typing.cast(Callable[..., object], member.__func__)
    if isinstance(member, property):
        return member.fget
    if isinstance(member, FunctionType):
        return member
    return None


def signature_problems(function: Callable[..., object]) -> tuple[list[str], list[object]]:
    """What is ``Any`` (or unannotated) in ``function``'s signature, and its hints."""
    hints = typing.get_type_hints(function)
    problems = []
    parameters = list(inspect.signature(function).parameters.values())
    for index, parameter in enumerate(parameters):
        if index == 0 and parameter.name in ("self", "cls"):
            continue
        if parameter.name not in hints:
            problems.append(f"parameter {parameter.name} has no annotation")
        elif _has_any(hints[parameter.name]):
            problems.append(f"parameter {parameter.name}: {hints[parameter.name]}")
    if "return" not in hints:
        problems.append("no return annotation")
    elif _has_any(hints["return"]):
        problems.append(f"returns {hints['return']}")
    return problems, list(hints.values())


def class_problems(cls: type) -> tuple[list[str], list[object]]:
    """What is ``Any`` in ``cls``'s fields and public methods (those arledger defines)."""
    problems: list[str] = []
    hints: list[object] = []
    if attrs.has(cls):
        for name, hint in typing.get_type_hints(cls).items():
            hints.append(hint)
            if _has_any(hint):
                problems.append(f"{cls.__name__}.{name}: {hint}")
    if issubclass(cls, enum.Enum):
        return problems, hints
    for name in dir(cls):
        if name.startswith("_") and not (name == "__init__" and not attrs.has(cls)):
            continue
        if cls is Ledger and name in INFRASTRUCTURE:
            continue  # checked on their own below
        if not _defined_by_arledger(cls, name):
            continue
        owner = next(klass for klass in cls.__mro__ if name in vars(klass))
        function = _callable_of(vars(owner)[name])
        if function is None:
            continue
        found, named = signature_problems(function)
        problems.extend(f"{cls.__name__}.{name}: {problem}" for problem in found)
        hints.extend(named)
    return problems, hints


def public_classes() -> list[type]:
    """Every arledger class reachable from ``arledger.__all__`` through checked signatures."""
    seen: dict[type, None] = {}
    exported = [getattr(arledger, name) for name in arledger.__all__]
    todo = [value for value in exported if isinstance(value, type)]
    while todo:
        cls = todo.pop()
        if cls in seen or not _is_arledger(cls):
            continue
        seen[cls] = None
        _, hints = class_problems(cls)
        for hint in hints:
            todo.extend(_classes_in(hint))
    return list(seen)


def test_every_public_ledger_method_is_a_command_a_query_or_infrastructure() -> None:
    unclassified = public_ledger_methods() - COMMANDS - QUERIES - INFRASTRUCTURE

    assert set() == unclassified, "classify each new public Ledger method in this module"


def test_no_method_is_classified_twice() -> None:
    assert set() == (COMMANDS & QUERIES) | (COMMANDS & INFRASTRUCTURE) | (QUERIES & INFRASTRUCTURE)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_each_ledger_query_is_typed_without_any(name: str) -> None:
    problems, hints = signature_problems(getattr(Ledger, name))

    assert [] == problems
    assert hints[-1] is not type(None)  # a query answers something


@pytest.mark.parametrize("name", sorted((COMMANDS | INFRASTRUCTURE) & public_ledger_methods()))
def test_each_ledger_command_and_infrastructure_method_is_typed_without_any(name: str) -> None:
    member = _callable_of(vars(Ledger).get(name, getattr(Ledger, name)))
    assert member is not None

    problems, _ = signature_problems(member)

    assert [] == problems


def test_every_exported_class_and_the_classes_its_api_names_are_typed_without_any() -> None:
    classes = public_classes()

    problems = [problem for cls in classes for problem in class_problems(cls)[0]]

    assert [] == problems
    assert {arledger.Worklist, arledger.WorklistItem, arledger.NextAction} <= set(classes)


def test_every_exported_function_and_alias_is_typed_without_any() -> None:
    exported = [getattr(arledger, name) for name in arledger.__all__]
    functions = [value for value in exported if isinstance(value, FunctionType)]

    problems = [problem for function in functions for problem in signature_problems(function)[0]]

    assert [] == problems
    assert arledger.to_data in functions
    assert not _has_any(arledger.JsonData)


def test_the_checker_finds_any_and_missing_annotations() -> None:
    def loose(value: typing.Any, other, *rest: int) -> dict[str, typing.Any]:  # type: ignore[no-untyped-def]
        return {}

    def hidden(callback: Callable[..., int]) -> None:
        return None

    assert 3 == len(signature_problems(loose)[0])
    assert ["parameter callback: collections.abc.Callable[..., int]"] == signature_problems(hidden)[
        0
    ]
