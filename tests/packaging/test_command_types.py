"""mypy --strict checks a client's commands: the typed methods and command classes accept the
right types and reject a wrong one (``amount="12.00"``, a date as text, a missing argument),
in a Ledger method, a command class or a session method; error fields are typed too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
from datetime import date

from arledger import CustomerMismatchError, Ledger, Money, Result
from arledger.domain.errors import InvoiceStateError
from arledger.domain.commands import InvoiceAmount, IssueInvoice, AllocatePayment

ledger = Ledger()
invoice_id = ledger.issue_invoice(
    "INV-1", customer_code="ACME", amount=Money.parse("12.00", "USD"), issued_on=date(2024, 1, 1)
)
result: Result = ledger.execute(
    IssueInvoice(
        invoice_number="INV-2",
        customer_code="ACME",
        amount=Money.parse("1.00", "USD"),
        issued_on=date(2024, 1, 1),
    ),
    AllocatePayment(
        bank_reference="B-1",
        allocations=(InvoiceAmount(invoice_number="INV-2", amount=Money(100, "USD")),),
    ),
    idempotency_key="k",
)
recorded: bool = result.recorded

session = ledger.session()
session.make_promise(
    customer_code="ACME",
    promise_reference="P-1",
    amount=Money(100, "USD"),
    promised_on=date(2024, 2, 1),
    made_on=date(2024, 1, 2),
    contact="Mr Wu",
    invoice_numbers=["INV-1"],
)
session.allocate_payment(bank_reference="B-1", allocations={"INV-1": Money(100, "USD")})
session.commit()
try:
    ledger.allocate_payment("B-1", {"INV-9": Money(100, "USD")})
except CustomerMismatchError as refused:
    refused_number: str | None = refused.invoice_number
    refused_reference: str | None = refused.bank_reference
"""

BAD = {
    'ledger.issue_invoice("I", customer_code="A", amount="12.00", issued_on=date(2024, 1, 1))': (
        'Argument "amount" to "issue_invoice" of "Ledger" has incompatible type "str"'
    ),
    'IssueInvoice(invoice_number="I", customer_code="A", amount=m, issued_on="2024-01-01")': (
        'Argument "issued_on" to "IssueInvoice" has incompatible type "str"'
    ),
    'ledger.set_credit_line(customer_code="A", amount=m, effective_on=date(2024, 1, 1))': (
        'Missing named argument "approver" for "set_credit_line"'
    ),
    'ledger.rate_risk(customer_code="A", rating="B", rated_on=date(2024, 1, 1), reason="r")': (
        'Argument "rating" to "rate_risk" of "Ledger" has incompatible type "str"'
    ),
    'session.issue_invoice(invoice_number="I", customer_code="A", amount="1", issued_on=day)': (
        'Argument "amount" has incompatible type "str"; expected "Money"'
    ),
    'session.receive_payment(bank_reference="B", payer_code="A", amount=m)': (
        'Missing named argument "value_on"'
    ),
    'session.write_off(invoice_number="I", written_off_on=day, reason="r", approver="a", x=1)': (
        'Unexpected keyword argument "x"'
    ),
    'InvoiceStateError("settled", open_minor="0")': (
        'Argument "open_minor" to "InvoiceStateError" has incompatible type "str"'
    ),
    'InvoiceStateError("settled", colour="red")': (
        'Unexpected keyword argument "colour" for "InvoiceStateError"'
    ),
    "mismatch.invoice_number.upper()": 'Item "None" of "str | None" has no attribute "upper"',
}


def mypy_strict(tmp_path: Path, code: str) -> str:
    """mypy's report on ``code`` as a client module, over the package as installed."""
    stage = tmp_path / "stage" / "arledger"
    stage.mkdir(parents=True)
    for entry in (ROOT / "arledger").iterdir():
        (stage / entry.name).symlink_to(entry)
    for sub in ("domain", "projections", "adapters"):
        (stage / sub).symlink_to(ROOT / sub)
    client = tmp_path / "client.py"
    client.write_text(code, encoding="utf-8")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--ignore-missing-imports",
            "--no-incremental",
            str(client),
        ],
        env={"MYPYPATH": str(tmp_path / "stage"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    return run.stdout + run.stderr


@pytest.mark.slow
def test_a_client_using_commands_type_checks_and_wrong_types_are_rejected(
    tmp_path: Path,
) -> None:
    code = (
        GOOD
        + "\nm = Money(1, 'USD')\nday = date(2024, 1, 1)\nmismatch = CustomerMismatchError('x')\n"
        + "\n".join(f"{line}  # bad" for line in BAD)
        + "\n"
    )
    report = mypy_strict(tmp_path, code)

    good_lines = len(GOOD.splitlines())
    errors = [line for line in report.splitlines() if ": error:" in line]
    assert all(int(line.split(":")[1]) > good_lines for line in errors), report
    for expected in BAD.values():
        assert expected in report, report
