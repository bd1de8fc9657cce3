"""Errors carry typed fields: every keyword a raise site gives is a field its class declares,
and a caller can catch each refusal by its own type."""

from __future__ import annotations

import ast
import pickle
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import attrs
import pytest

from arledger.adapters.application.ledger import Ledger
from arledger.domain import errors
from arledger.domain.errors import (
    ArledgerError,
    CustomerMismatchError,
    InvalidChoiceError,
    InvalidTextError,
    InvoiceStateError,
    NothingToAllocateError,
    RepeatedInvoiceError,
)
from arledger.domain.money import Money

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    path
    for folder in ("domain", "projections", "adapters", "arledger")
    for path in (ROOT / folder).rglob("*.py")
]
DECLARED_HERE = {
    name: cls
    for name, cls in vars(errors).items()
    if isinstance(cls, type) and issubclass(cls, ArledgerError) and cls is not ArledgerError
}


def raise_sites() -> list[tuple[str, int, str, set[str]]]:
    """(file, line, error class, keywords) of every call of an error class of domain/errors.py."""
    sites = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in DECLARED_HERE
            ):
                keywords = {keyword.arg for keyword in node.keywords if keyword.arg is not None}
                sites.append((str(path.relative_to(ROOT)), node.lineno, node.func.id, keywords))
    return sites


def test_raise_sites_are_found() -> None:
    assert len(raise_sites()) > 150


def test_every_keyword_a_raise_site_gives_is_a_field_of_its_class() -> None:
    """mypy proves it too (the constructors are typed); this catches a site mypy skips."""
    undeclared = [
        f"{path}:{line} {name}({', '.join(sorted(keywords - fields))})"
        for path, line, name, keywords in raise_sites()
        if not keywords <= (fields := set(attrs.fields_dict(DECLARED_HERE[name])))
    ]

    assert [] == undeclared


def test_every_error_of_the_domain_is_an_attrs_class_of_its_own() -> None:
    """Its own decorator makes its fields constructor parameters mypy checks."""
    assert [] == [name for name, cls in DECLARED_HERE.items() if "__attrs_attrs__" not in vars(cls)]


def test_a_field_is_read_with_its_type_and_an_unknown_one_is_refused() -> None:
    error = InvoiceStateError("settled", invoice_number="INV-1", open_minor=0)

    assert "INV-1" == error.invoice_number
    assert 0 == error.open_minor
    assert error.invoice_id is None
    assert "settled" == str(error) == error.message
    assert {"invoice_number": "INV-1", "open_minor": 0} == error.details
    with pytest.raises(TypeError, match="colour"):
        InvoiceStateError("settled", colour="red")  # type: ignore[call-arg]


def test_dates_are_typed_too() -> None:
    error = errors.InvalidDateError("too early", field="due_on", due_on=date(2024, 1, 1))

    assert date(2024, 1, 1) == error.due_on


def test_an_error_survives_pickling_with_its_fields() -> None:
    """A worker process hands its error back pickled; the fields are keyword-only."""
    error = errors.AccountCurrencyError(
        "EUR invoice on a USD account", customer_code="ACME", currency="EUR"
    )

    copy = pickle.loads(pickle.dumps(error))

    assert (type(error), "EUR invoice on a USD account") == (type(copy), str(copy))
    assert ("ACME", "EUR", None) == (copy.customer_code, copy.currency, copy.account_currency)


# Typed refusals a caller may want to catch --------------------------------------------------


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    ledger = Ledger({"ARLEDGER_STORE": "memory"})
    for code in ("ACME", "BETA"):
        ledger.open_account(
            code, name=code, currency="USD", collection_owner="li", opened_on=date(2024, 1, 1)
        )
    ledger.issue_invoice(
        "INV-B", customer_code="BETA", amount=Money(100_00, "USD"), issued_on=date(2024, 1, 2)
    )
    ledger.receive_payment(
        "BANK-A", payer_code="ACME", amount=Money(50_00, "USD"), value_on=date(2024, 1, 3)
    )
    yield ledger
    ledger.close()


def test_paying_another_customers_invoice_is_a_customer_mismatch(ledger: Ledger) -> None:
    with pytest.raises(CustomerMismatchError) as refused:
        ledger.allocate_payment("BANK-A", {"INV-B": Money(10_00, "USD")})

    assert "BANK-A" == refused.value.bank_reference
    assert "INV-B" == refused.value.invoice_number


def test_a_promise_for_another_customers_invoice_is_a_customer_mismatch(ledger: Ledger) -> None:
    with pytest.raises(CustomerMismatchError) as refused:
        ledger.make_promise(
            customer_code="ACME",
            promise_reference="P-1",
            amount=Money(10_00, "USD"),
            promised_on=date(2024, 2, 1),
            made_on=date(2024, 1, 5),
            contact="Mr Wu",
            invoice_numbers=["INV-B"],
        )

    assert ("P-1", "INV-B", "ACME") == (
        refused.value.promise_reference,
        refused.value.invoice_number,
        refused.value.customer_code,
    )


def test_an_invoice_named_twice_in_a_promise_is_a_repeated_invoice(ledger: Ledger) -> None:
    with pytest.raises(RepeatedInvoiceError):
        ledger.make_promise(
            customer_code="BETA",
            promise_reference="P-1",
            amount=Money(10_00, "USD"),
            promised_on=date(2024, 2, 1),
            made_on=date(2024, 1, 5),
            contact="Mr Wu",
            invoice_numbers=["INV-B", "INV-B"],
        )


def test_an_automatic_allocation_with_nothing_open_is_nothing_to_allocate(ledger: Ledger) -> None:
    with pytest.raises(NothingToAllocateError) as refused:
        ledger.allocate_payment("BANK-A")

    assert "BANK-A" == refused.value.bank_reference


def test_a_value_that_is_not_one_of_the_choices_is_an_invalid_choice(ledger: Ledger) -> None:
    with pytest.raises(InvalidChoiceError) as refused:
        ledger.rate_risk(
            customer_code="ACME",
            rating="E",  # type: ignore[arg-type]
            rated_on=date(2024, 1, 5),
            reason="late",
        )

    assert "rating" == refused.value.field
    assert "E" == refused.value.value


def test_a_credit_note_number_that_is_not_text_is_refused_naming_its_field(
    ledger: Ledger,
) -> None:
    """A lone surrogate cannot even be hashed into an id: the look-up of the number's
    registration must not crash before the domain refuses it (found by test_bad_input)."""
    with pytest.raises(InvalidTextError) as refused:
        ledger.apply_credit_note(
            "INV-B",
            credit_note_number="0\ud8000",
            amount=Money(1_00, "USD"),
            applied_on=date(2024, 1, 5),
            reason="damaged",
            approver="cfo",
        )

    assert "credit_note_number" == refused.value.field
