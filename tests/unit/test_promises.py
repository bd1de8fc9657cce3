"""Promises to pay: the aggregate's commands, then how the promise projection judges them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from arledger.domain import customer as customer_module
from arledger.domain import ids
from arledger.domain import invoice as invoice_module
from arledger.domain import promise as promise_module
from arledger.domain.customer import CustomerAccount
from arledger.domain.errors import (
    CurrencyMismatchError,
    DuplicateKeyConflictError,
    InvalidAmountError,
    InvalidCommandError,
    InvalidDateError,
    PromiseAmountError,
    PromiseStateError,
)
from arledger.domain.events import (
    AllocationReleased,
    CustomerAccountOpened,
    EscalationPolicyAdopted,
    Event,
    InvoiceAddedToAccount,
    InvoiceIssued,
    PaymentApplied,
    PaymentReceived,
    PaymentReversed,
    PaymentTermsKind,
    PaymentUnapplied,
    PromiseMade,
    PromiseSuperseded,
    PromiseWithdrawn,
)
from arledger.domain.invoice import Invoice
from arledger.domain.policy import EscalationPolicy
from arledger.domain.promise import Promise, PromiseState, make_promise, withdraw_promise
from arledger.projections import portfolio
from arledger.projections.promises import (
    PromiseRates,
    PromiseStatus,
    judge,
    judge_all,
    promise_rates,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)
CUSTOMER_ID = ids.customer_id("C1")
OTHER_CUSTOMER_ID = ids.customer_id("C2")
MADE_ON = date(2024, 3, 1)
PROMISED_ON = date(2024, 3, 10)
# The default policy's tolerance is 3 days: the deadline is 13 March.
DEADLINE_ON = date(2024, 3, 13)


# Facts ---------------------------------------------------------------------------------------


def account_opened(code: str = "C1", currency: str = "USD") -> CustomerAccountOpened:
    return CustomerAccountOpened(
        originator_id=ids.customer_id(code),
        originator_version=1,
        timestamp=AT,
        customer_code=code,
        name=f"{code} Trading",
        currency=currency,
        collection_owner="li",
        terms_kind=PaymentTermsKind.NET,
        terms_days=30,
        opened_on=date(2024, 1, 1),
    )


def invoice_issued(number: str, customer_code: str = "C1") -> InvoiceIssued:
    return InvoiceIssued(
        originator_id=ids.invoice_id(number),
        originator_version=1,
        timestamp=AT,
        invoice_number=number,
        customer_id=ids.customer_id(customer_code),
        amount_minor=100_000,
        currency="USD",
        issued_on=date(2024, 1, 10),
        due_on=date(2024, 2, 9),
    )


def account(
    code: str = "C1", currency: str = "USD", invoice_numbers: Sequence[str] = ()
) -> CustomerAccount:
    state = customer_module.fold(
        [
            account_opened(code, currency),
            *(
                InvoiceAddedToAccount(
                    originator_id=ids.customer_id(code),
                    originator_version=version,
                    timestamp=AT,
                    invoice_id=ids.invoice_id(number),
                    invoice_number=number,
                )
                for version, number in enumerate(invoice_numbers, 2)
            ),
        ]
    )
    assert state is not None
    return state


def invoice(number: str, customer_code: str = "C1", *movements: Event) -> Invoice:
    numbered = [attrs.evolve(m, originator_version=n) for n, m in enumerate(movements, 2)]
    state = invoice_module.fold([invoice_issued(number, customer_code), *numbered])
    assert state is not None
    return state


def promise_made(
    reference: str = "P-1",
    amount_minor: int = 100_000,
    *,
    made_on: date = MADE_ON,
    promised_on: date = PROMISED_ON,
    invoice_numbers: Sequence[str] = (),
) -> PromiseMade:
    return PromiseMade(
        originator_id=ids.promise_id(reference),
        originator_version=1,
        timestamp=AT,
        promise_reference=reference,
        customer_id=CUSTOMER_ID,
        amount_minor=amount_minor,
        currency="USD",
        promised_on=promised_on,
        made_on=made_on,
        contact="Mr Wu, treasurer",
        invoice_ids=tuple(ids.invoice_id(number) for number in invoice_numbers),
    )


def withdrawn(reference: str = "P-1", on: date = date(2024, 3, 5)) -> PromiseWithdrawn:
    return PromiseWithdrawn(
        originator_id=ids.promise_id(reference),
        originator_version=2,
        timestamp=AT,
        withdrawn_on=on,
        reason="customer retracted",
    )


def superseded(reference: str = "P-1", by: str = "P-2") -> PromiseSuperseded:
    return PromiseSuperseded(
        originator_id=ids.promise_id(reference),
        originator_version=2,
        timestamp=AT,
        superseded_on=date(2024, 3, 5),
        superseded_by=by,
    )


def received(bank_reference: str, amount_minor: int, value_on: date) -> PaymentReceived:
    return PaymentReceived(
        originator_id=ids.payment_id(bank_reference),
        originator_version=1,
        timestamp=AT,
        bank_reference=bank_reference,
        payer_customer_id=CUSTOMER_ID,
        amount_minor=amount_minor,
        currency="USD",
        value_on=value_on,
    )


def applied(number: str, bank_reference: str, amount_minor: int, on: date) -> PaymentApplied:
    return PaymentApplied(
        originator_id=ids.invoice_id(number),
        originator_version=2,
        timestamp=AT,
        payment_id=ids.payment_id(bank_reference),
        amount_minor=amount_minor,
        currency="USD",
        applied_on=on,
    )


def reversed_(bank_reference: str, on: date, *applications: tuple[str, int]) -> list[Event]:
    """The payment bounced: it and each (invoice number, amount) it settled are reversed."""
    return [
        PaymentReversed(
            originator_id=ids.payment_id(bank_reference),
            originator_version=3,
            timestamp=AT,
            reversed_on=on,
            reason="bounced",
            released=tuple(
                AllocationReleased(invoice_id=ids.invoice_id(number), amount_minor=amount_minor)
                for number, amount_minor in applications
            ),
        ),
        *(
            PaymentUnapplied(
                originator_id=ids.invoice_id(number),
                originator_version=3,
                timestamp=AT,
                payment_id=ids.payment_id(bank_reference),
                amount_minor=amount_minor,
                currency="USD",
                unapplied_on=on,
                reason="bounced",
            )
            for number, amount_minor in applications
        ),
    ]


def policy_adopted(
    version: int, effective_on: date, tolerance_days: int
) -> EscalationPolicyAdopted:
    return EscalationPolicyAdopted(
        originator_id=ids.policy_book_id(),
        originator_version=version - 1,
        timestamp=AT,
        policy=EscalationPolicy(version=version, promise_tolerance_days=tolerance_days),
        effective_on=effective_on,
        approver="cfo",
        reason="tighter follow-up",
    )


def ledger_of(*events: Event) -> portfolio.PortfolioState:
    """A customer with two invoices, then the given facts."""
    return portfolio.fold_all(
        [account_opened(), invoice_issued("INV-1"), invoice_issued("INV-2"), *events]
    )


def status_of(state: portfolio.PortfolioState, as_of: date, reference: str = "P-1") -> Any:
    judgement = judge(state, state.promises[ids.promise_id(reference)], as_of)
    assert judgement is not None
    return judgement


# The aggregate: making a promise ------------------------------------------------------------


def make(existing: Promise | None = None, **fields: Any) -> list[Event]:
    command: dict[str, Any] = {
        "promise_reference": "P-1",
        "amount_minor": 100_000,
        "currency": "USD",
        "promised_on": PROMISED_ON,
        "made_on": MADE_ON,
        "contact": "Mr Wu, treasurer",
        "recorded_at": AT,
    }
    command.update(fields)
    # By default C1 owes INV-1 and INV-2, 1,000.00 each, unpaid.
    customer = command.pop("customer", None) or account(invoice_numbers=("INV-1", "INV-2"))
    command.setdefault("account_invoices", [invoice("INV-1"), invoice("INV-2")])
    return make_promise(existing, customer, **command)


def promise(*events: Event) -> Promise:
    state = promise_module.fold(events)
    assert state is not None
    return state


def test_a_promise_is_made_with_amount_date_and_contact() -> None:
    events = make()

    assert [promise_made()] == events
    assert PromiseState.OPEN == promise(*events).state


def test_a_promise_may_name_invoices_of_the_same_customer() -> None:
    events = make(invoices=[invoice("INV-1"), invoice("INV-2")])

    assert [promise_made(invoice_numbers=("INV-1", "INV-2"))] == events


def test_a_promise_naming_another_customers_invoice_is_refused() -> None:
    with pytest.raises(InvalidCommandError) as caught:
        make(invoices=[invoice("INV-9", customer_code="C2")])

    assert "INV-9" == caught.value.invoice_number


def test_a_promise_naming_an_invoice_twice_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        make(invoices=[invoice("INV-1"), invoice("INV-1")])


def test_a_promise_dated_before_it_was_made_is_refused() -> None:
    with pytest.raises(InvalidDateError) as caught:
        make(promised_on=date(2024, 2, 29))

    assert "P-1" == caught.value.promise_reference


def test_a_promise_for_the_day_it_is_made_is_allowed() -> None:
    assert 1 == len(make(promised_on=MADE_ON))


def test_a_promise_in_another_currency_than_the_account_is_refused() -> None:
    with pytest.raises(CurrencyMismatchError) as caught:
        make(currency="EUR")

    assert "EUR" == caught.value.currency
    assert "USD" == caught.value.other_currency


@pytest.mark.parametrize("amount_minor", [0, -5])
def test_a_promise_of_nothing_is_refused(amount_minor: int) -> None:
    with pytest.raises(InvalidAmountError):
        make(amount_minor=amount_minor)


def test_a_promise_without_a_contact_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        make(contact="")


def test_the_same_promise_made_again_is_a_no_op() -> None:
    assert [] == make(promise(promise_made()))


def test_the_same_promise_reference_with_other_content_is_refused() -> None:
    with pytest.raises(DuplicateKeyConflictError) as caught:
        make(promise(promise_made()), amount_minor=50_000)

    assert "P-1" == caught.value.promise_reference


def test_a_new_promise_supersedes_an_open_one_atomically() -> None:
    old = promise(promise_made())

    events = make(
        promise_reference="P-2",
        promised_on=date(2024, 3, 20),
        made_on=date(2024, 3, 5),
        supersedes=old,
    )

    assert [
        superseded(),
        promise_made("P-2", made_on=date(2024, 3, 5), promised_on=date(2024, 3, 20)),
    ] == events
    replaced = promise_module.fold(events[:1], old)
    assert replaced is not None
    assert PromiseState.SUPERSEDED == replaced.state


def test_superseding_a_withdrawn_promise_is_refused() -> None:
    old = promise(promise_made(), withdrawn())

    with pytest.raises(PromiseStateError) as caught:
        make(promise_reference="P-2", supersedes=old)

    assert "P-1" == caught.value.promise_reference


def test_superseding_another_customers_promise_is_refused() -> None:
    other = promise(attrs.evolve(promise_made("P-9"), customer_id=OTHER_CUSTOMER_ID))

    with pytest.raises(InvalidCommandError):
        make(promise_reference="P-2", supersedes=other)


def test_a_replacement_made_before_the_promise_it_replaces_is_refused() -> None:
    old = promise(promise_made())

    with pytest.raises(InvalidDateError):
        make(promise_reference="P-2", made_on=date(2024, 2, 28), supersedes=old)


# The aggregate: a promise is never larger than what is open (issue 9.6) ----------------------


def test_a_promise_larger_than_what_its_invoice_has_open_on_the_day_is_refused() -> None:
    # INV-1 (1,000.00) was paid in full on 20 February; on 1 March nothing is open on it.
    paid = invoice("INV-1", "C1", applied("INV-1", "BR-1", 100_000, date(2024, 2, 20)))

    with pytest.raises(PromiseAmountError) as caught:
        make(amount_minor=500_000, invoices=[paid])

    assert "P-1" == caught.value.promise_reference
    assert 500_000 == caught.value.amount_minor
    assert 0 == caught.value.open_minor
    assert MADE_ON == caught.value.made_on
    assert isinstance(caught.value, InvalidCommandError)


def test_a_promise_of_exactly_what_its_invoices_have_open_is_accepted() -> None:
    part_paid = invoice("INV-1", "C1", applied("INV-1", "BR-1", 30_000, date(2024, 2, 20)))

    assert 1 == len(make(amount_minor=170_000, invoices=[part_paid, invoice("INV-2")]))
    with pytest.raises(PromiseAmountError) as caught:
        make(amount_minor=170_001, invoices=[part_paid, invoice("INV-2")])
    assert 170_000 == caught.value.open_minor


def test_a_promise_naming_no_invoice_is_held_to_what_the_whole_account_has_open() -> None:
    assert 1 == len(make(amount_minor=200_000))
    with pytest.raises(PromiseAmountError) as caught:
        make(amount_minor=200_001)
    assert 200_000 == caught.value.open_minor
    assert "C1" == caught.value.customer_code


def test_what_is_open_is_taken_on_the_day_the_promise_is_made() -> None:
    # Paid on 5 March, after the promise of 1 March: on 1 March all of it was still open.
    paid_later = invoice("INV-1", "C1", applied("INV-1", "BR-1", 100_000, date(2024, 3, 5)))
    # Issued on 10 January but for a promise made on 9 January nothing was open yet.
    assert 1 == len(make(invoices=[paid_later]))
    with pytest.raises(PromiseAmountError):
        make(invoices=[invoice("INV-1")], made_on=date(2024, 1, 9))


def test_a_promise_made_again_is_a_no_op_even_after_its_invoice_was_paid() -> None:
    paid = invoice("INV-1", "C1", applied("INV-1", "BR-1", 100_000, date(2024, 2, 20)))
    made = promise(promise_made(invoice_numbers=("INV-1",)))

    assert [] == make(made, invoices=[paid])


# The aggregate: withdrawing -----------------------------------------------------------------


def test_an_open_promise_is_withdrawn() -> None:
    events = withdraw_promise(
        promise(promise_made()),
        withdrawn_on=date(2024, 3, 5),
        reason="customer retracted",
        recorded_at=AT,
    )

    assert [withdrawn()] == events


def test_withdrawing_a_withdrawn_promise_is_refused() -> None:
    with pytest.raises(PromiseStateError):
        withdraw_promise(
            promise(promise_made(), withdrawn()),
            withdrawn_on=date(2024, 3, 6),
            reason="again",
            recorded_at=AT,
        )


def test_withdrawing_a_superseded_promise_is_refused() -> None:
    with pytest.raises(PromiseStateError):
        withdraw_promise(
            promise(promise_made(), superseded()),
            withdrawn_on=date(2024, 3, 6),
            reason="again",
            recorded_at=AT,
        )


def test_withdrawing_before_the_promise_was_made_is_refused() -> None:
    with pytest.raises(InvalidDateError):
        withdraw_promise(
            promise(promise_made()),
            withdrawn_on=date(2024, 2, 1),
            reason="typo",
            recorded_at=AT,
        )


# The projection: kept, partly kept, broken, open --------------------------------------------


def test_a_promise_paid_in_full_by_its_date_is_kept_on_the_day_of_payment() -> None:
    state = ledger_of(promise_made(), received("B-1", 100_000, date(2024, 3, 8)))

    judgement = status_of(state, date(2024, 3, 31))

    assert PromiseStatus.KEPT == judgement.status
    assert 100_000 == judgement.paid_minor
    assert date(2024, 3, 8) == judgement.judged_on
    assert DEADLINE_ON == judgement.deadline_on


def test_a_promise_paid_in_full_within_the_tolerance_days_is_kept() -> None:
    state = ledger_of(promise_made(), received("B-1", 100_000, DEADLINE_ON))

    assert PromiseStatus.KEPT == status_of(state, date(2024, 3, 31)).status


def test_a_promise_paid_the_day_after_the_tolerance_is_broken() -> None:
    state = ledger_of(promise_made(), received("B-1", 100_000, date(2024, 3, 14)))

    judgement = status_of(state, date(2024, 3, 31))

    assert PromiseStatus.BROKEN == judgement.status
    assert 0 == judgement.paid_minor
    assert date(2024, 3, 14) == judgement.judged_on


def test_a_payment_before_the_promise_was_made_does_not_count() -> None:
    state = ledger_of(promise_made(), received("B-1", 100_000, date(2024, 2, 29)))

    assert PromiseStatus.BROKEN == status_of(state, date(2024, 3, 31)).status


def test_a_promise_paid_in_part_by_the_deadline_is_partly_kept() -> None:
    state = ledger_of(promise_made(), received("B-1", 40_000, date(2024, 3, 9)))

    judgement = status_of(state, date(2024, 3, 31))

    assert PromiseStatus.PARTLY_KEPT == judgement.status
    assert 40_000 == judgement.paid_minor
    assert 100_000 == judgement.promised_minor


def test_two_payments_that_add_up_keep_the_promise_on_the_second() -> None:
    state = ledger_of(
        promise_made(),
        received("B-1", 40_000, date(2024, 3, 4)),
        received("B-2", 60_000, date(2024, 3, 11)),
    )

    judgement = status_of(state, date(2024, 3, 31))

    assert PromiseStatus.KEPT == judgement.status
    assert date(2024, 3, 11) == judgement.judged_on


def test_an_unpaid_promise_is_open_until_its_deadline_and_broken_after() -> None:
    state = ledger_of(promise_made())

    assert PromiseStatus.OPEN == status_of(state, PROMISED_ON).status
    assert PromiseStatus.OPEN == status_of(state, DEADLINE_ON).status
    assert PromiseStatus.BROKEN == status_of(state, date(2024, 3, 14)).status


def test_a_promise_is_not_judged_before_it_was_made() -> None:
    state = ledger_of(promise_made())

    assert judge(state, state.promises[ids.promise_id("P-1")], date(2024, 2, 29)) is None


def test_a_withdrawn_promise_is_not_judged() -> None:
    state = ledger_of(promise_made(), withdrawn())

    assert PromiseStatus.WITHDRAWN == status_of(state, date(2024, 3, 31)).status


def test_a_superseded_promise_is_not_judged_and_its_replacement_is() -> None:
    state = ledger_of(
        promise_made(),
        superseded(),
        promise_made("P-2", made_on=date(2024, 3, 5), promised_on=date(2024, 3, 20)),
    )

    assert PromiseStatus.SUPERSEDED == status_of(state, date(2024, 3, 31)).status
    assert PromiseStatus.BROKEN == status_of(state, date(2024, 3, 31), "P-2").status


def test_a_promise_withdrawn_after_it_was_kept_stays_kept() -> None:
    state = ledger_of(
        promise_made(),
        received("B-1", 100_000, date(2024, 3, 3)),
        withdrawn(on=date(2024, 3, 5)),
    )

    assert PromiseStatus.KEPT == status_of(state, date(2024, 3, 31)).status


# The projection: tolerance from the policy in force on the promised date --------------------


def test_the_tolerance_days_come_from_the_policy_in_force_on_the_promised_date() -> None:
    paid_late = received("B-1", 100_000, date(2024, 3, 12))

    default = ledger_of(promise_made(), paid_late)
    strict = ledger_of(
        policy_adopted(2, date(2024, 3, 1), tolerance_days=0), promise_made(), paid_late
    )

    assert PromiseStatus.KEPT == status_of(default, date(2024, 3, 31)).status
    assert PromiseStatus.BROKEN == status_of(strict, date(2024, 3, 31)).status
    assert PROMISED_ON == status_of(strict, date(2024, 3, 31)).deadline_on


def test_a_policy_taking_effect_after_the_promised_date_does_not_change_the_tolerance() -> None:
    state = ledger_of(
        policy_adopted(2, date(2024, 3, 11), tolerance_days=0),
        promise_made(),
        received("B-1", 100_000, date(2024, 3, 12)),
    )

    assert PromiseStatus.KEPT == status_of(state, date(2024, 3, 31)).status


def test_a_longer_tolerance_keeps_a_later_payment() -> None:
    state = ledger_of(
        policy_adopted(2, date(2024, 1, 1), tolerance_days=10),
        promise_made(),
        received("B-1", 100_000, date(2024, 3, 20)),
    )

    judgement = status_of(state, date(2024, 3, 31))

    assert PromiseStatus.KEPT == judgement.status
    assert date(2024, 3, 20) == judgement.deadline_on


# The projection: promised invoices and reversed payments ------------------------------------


def test_a_promise_naming_invoices_counts_only_payments_applied_to_them() -> None:
    state = ledger_of(
        promise_made(invoice_numbers=("INV-1",)),
        received("B-1", 100_000, date(2024, 3, 5)),
        applied("INV-2", "B-1", 100_000, date(2024, 3, 5)),
    )

    judgement = status_of(state, date(2024, 3, 31))

    assert PromiseStatus.BROKEN == judgement.status
    assert 0 == judgement.paid_minor


def test_a_promise_naming_invoices_is_kept_by_payments_applied_to_them() -> None:
    state = ledger_of(
        promise_made(invoice_numbers=("INV-1", "INV-2")),
        received("B-1", 100_000, date(2024, 3, 5)),
        applied("INV-1", "B-1", 70_000, date(2024, 3, 5)),
        applied("INV-2", "B-1", 30_000, date(2024, 3, 6)),
    )

    judgement = status_of(state, date(2024, 3, 31))

    assert PromiseStatus.KEPT == judgement.status
    assert date(2024, 3, 6) == judgement.judged_on


def test_a_reversed_payment_no_longer_keeps_the_promise() -> None:
    state = ledger_of(
        promise_made(),
        received("B-1", 100_000, date(2024, 3, 8)),
        *reversed_("B-1", date(2024, 3, 20)),
    )

    assert PromiseStatus.KEPT == status_of(state, date(2024, 3, 19)).status
    assert PromiseStatus.BROKEN == status_of(state, date(2024, 3, 20)).status


def test_a_reversed_payment_applied_to_a_promised_invoice_no_longer_counts() -> None:
    state = ledger_of(
        promise_made(invoice_numbers=("INV-1",)),
        received("B-1", 100_000, date(2024, 3, 8)),
        applied("INV-1", "B-1", 100_000, date(2024, 3, 8)),
        *reversed_("B-1", date(2024, 3, 20), ("INV-1", 100_000)),
    )

    assert PromiseStatus.KEPT == status_of(state, date(2024, 3, 19)).status
    assert PromiseStatus.BROKEN == status_of(state, date(2024, 3, 20)).status


# Rates --------------------------------------------------------------------------------------


def test_rates_count_only_judged_promises_by_count_and_by_amount() -> None:
    state = ledger_of(
        promise_made("P-1", 100_000),
        received("B-1", 100_000, date(2024, 3, 2)),
        promise_made("P-2", 50_000, made_on=date(2024, 3, 3)),
        received("B-2", 20_000, date(2024, 3, 4)),
        promise_made("P-3", 50_000, made_on=date(2024, 3, 5)),
        promise_made("P-4", 10_000, made_on=date(2024, 3, 6), promised_on=date(2024, 4, 30)),
        promise_made("P-5", 10_000, made_on=date(2024, 3, 6)),
        withdrawn("P-5", on=date(2024, 3, 7)),
    )

    judgements = judge_all(state, date(2024, 3, 31), customer_id=CUSTOMER_ID)
    rates = promise_rates(judgements)

    assert ["P-1", "P-2", "P-3", "P-4", "P-5"] == [j.reference for j in judgements]
    # A promise naming no invoice is judged on all the customer's money in its own window:
    # P-1 is kept by B-1; P-2 (made 3 March) gets only B-2; P-3 (made 5 March) gets nothing.
    assert [
        PromiseStatus.KEPT,
        PromiseStatus.PARTLY_KEPT,
        PromiseStatus.BROKEN,
        PromiseStatus.OPEN,
        PromiseStatus.WITHDRAWN,
    ] == [j.status for j in judgements]
    assert PromiseRates(
        judged_count=3, kept_count=1, promised_minor=200_000, paid_minor=120_000
    ) == (rates)
    assert Decimal(1) / Decimal(3) == rates.kept_rate_by_count
    assert Decimal("0.6") == rates.kept_rate_by_amount


def test_rates_over_no_judged_promise_are_none() -> None:
    rates = promise_rates([])

    assert rates.kept_rate_by_count is None
    assert rates.kept_rate_by_amount is None


def test_judge_all_keeps_to_the_customer_asked_about() -> None:
    other = attrs.evolve(promise_made("P-9"), customer_id=OTHER_CUSTOMER_ID)
    state = ledger_of(promise_made(), account_opened("C2"), other)

    judgements = judge_all(state, date(2024, 3, 31), customer_id=CUSTOMER_ID)

    assert ["P-1"] == [j.reference for j in judgements]
