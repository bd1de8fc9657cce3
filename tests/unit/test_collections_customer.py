"""Customer account, collections side: given events, when a command, then events or an error."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import attrs
import pytest

from arledger.domain import customer as customer_module
from arledger.domain import ids
from arledger.domain.customer import (
    CustomerAccount,
    acknowledge_balance_confirmation,
    blacklist,
    change_owner,
    change_terms,
    clear_blacklist,
    hold_supply,
    propose_credit_line,
    rate_risk,
    release_supply,
    send_balance_confirmation,
    set_credit_line,
    set_key_contact,
    set_payment_calendar,
)
from arledger.domain.errors import (
    ConfirmationNotFoundError,
    CustomerStateError,
    DuplicateKeyConflictError,
    InvalidAmountError,
    InvalidCommandError,
    InvalidDateError,
)
from arledger.domain.events import (
    BalanceConfirmationAcknowledged,
    BalanceConfirmationSent,
    CollectionOwnerChanged,
    ContactRole,
    CreditLineSet,
    CustomerAccountOpened,
    CustomerBlacklisted,
    CustomerCleared,
    Event,
    InvoiceIssued,
    KeyContactSet,
    PaymentCalendarSet,
    PaymentTermsChanged,
    PaymentTermsKind,
    RiskRated,
    RiskRating,
    SupplyHeld,
    SupplyReleased,
)
from arledger.domain.invoice import issue_invoice
from arledger.domain.policy import DEFAULT_ESCALATION_POLICY, EscalationPolicy
from arledger.projections import portfolio
from tests.given import given_customer as given
from tests.given import then

AT = datetime(2026, 1, 1, tzinfo=UTC)
CODE = "C1"
CUSTOMER_ID = ids.customer_id(CODE)
OPENED_ON = date(2024, 1, 1)
ON = date(2024, 3, 1)


# Given, when, then --------------------------------------------------------------------------


def opened(
    terms_kind: PaymentTermsKind = PaymentTermsKind.NET, terms_days: int = 30
) -> CustomerAccountOpened:
    return CustomerAccountOpened(
        originator_id=CUSTOMER_ID,
        originator_version=1,
        timestamp=AT,
        customer_code=CODE,
        name="Acme Trading",
        currency="USD",
        collection_owner="li",
        terms_kind=terms_kind,
        terms_days=terms_days,
        opened_on=OPENED_ON,
    )


def after(account: CustomerAccount, events: Sequence[Event]) -> CustomerAccount:
    """The account once the command's events are applied."""
    state = customer_module.fold(events, account)
    assert state is not None
    return state


def envelope(version: int) -> dict[str, Any]:
    return {"originator_id": CUSTOMER_ID, "originator_version": version, "timestamp": AT}


def blacklisted(version: int = 0) -> CustomerBlacklisted:
    return CustomerBlacklisted(**envelope(version), blacklisted_on=ON, reason="fraud suspected")


def held(version: int = 0, *, by_policy: bool = True) -> SupplyHeld:
    return SupplyHeld(**envelope(version), held_on=ON, reason="level 3", by_policy=by_policy)


def sent(
    version: int = 0, *, balance_minor: int = 150_000, from_statement: bool = True
) -> BalanceConfirmationSent:
    """A confirmation issued from the statement for January-February (``from_statement``
    False: as recorded before confirmations were issued from a statement)."""
    statement: dict[str, Any] = {}
    if from_statement:
        statement = {"statement_from_on": OPENED_ON, "statement_lines": 3}
    return BalanceConfirmationSent(
        **envelope(version),
        confirmation_reference="BC-1",
        balance_as_of=date(2024, 2, 29),
        ledger_balance_minor=balance_minor,
        currency="USD",
        sent_on=ON,
        **statement,
    )


# Credit line --------------------------------------------------------------------------------


def test_a_credit_line_is_granted_with_its_approver_and_reason() -> None:
    account = given(opened())

    events = set_credit_line(
        account,
        amount_minor=50_000_000,
        effective_on=ON,
        approver="cfo",
        reason="annual review",
        registered_capital_minor=100_000_000,
        recorded_at=AT,
    )

    then(
        [
            CreditLineSet(
                **envelope(2),
                amount_minor=50_000_000,
                currency="USD",
                effective_on=ON,
                approver="cfo",
                reason="annual review",
                registered_capital_minor=100_000_000,
            )
        ],
        events,
    )
    assert 50_000_000 == after(account, events).credit_line_minor


def test_a_credit_line_is_changed_by_a_new_event_and_the_latest_wins() -> None:
    account = given(
        opened(),
        CreditLineSet(
            **envelope(0),
            amount_minor=1_000_000,
            currency="USD",
            effective_on=ON,
            approver="cfo",
            reason="first order",
        ),
    )

    events = set_credit_line(
        account,
        amount_minor=2_000_000,
        effective_on=date(2024, 6, 1),
        approver="ceo",
        reason="good payer",
        recorded_at=AT,
    )

    assert 3 == events[0].originator_version
    assert 2_000_000 == after(account, events).credit_line_minor


def test_a_zero_credit_line_means_no_credit_and_is_allowed() -> None:
    account = given(opened())

    events = set_credit_line(
        account, amount_minor=0, effective_on=ON, approver="cfo", reason="cash only", recorded_at=AT
    )

    assert 0 == after(account, events).credit_line_minor


@pytest.mark.parametrize("amount_minor", [-1, 1.5, "100"])
def test_a_negative_or_non_integer_credit_line_is_refused(amount_minor: Any) -> None:
    account = given(opened())

    with pytest.raises(InvalidAmountError) as caught:
        set_credit_line(
            account,
            amount_minor=amount_minor,
            effective_on=ON,
            approver="cfo",
            reason="typo",
            recorded_at=AT,
        )

    assert CODE == caught.value.customer_code
    assert amount_minor == caught.value.amount_minor


@pytest.mark.parametrize("approver", ["", "  "])
def test_a_credit_line_without_an_approver_is_refused(approver: str) -> None:
    with pytest.raises(InvalidCommandError):
        set_credit_line(
            given(opened()),
            amount_minor=100,
            effective_on=ON,
            approver=approver,
            reason="no one signed",
            recorded_at=AT,
        )


def test_the_proposed_credit_line_is_half_the_registered_capital_by_default() -> None:
    assert 50_000_000 == propose_credit_line(100_000_000, DEFAULT_ESCALATION_POLICY)


def test_a_policy_with_another_ratio_proposes_another_line() -> None:
    policy = EscalationPolicy(version=2, credit_line_capital_ratio_bps=3000)

    assert 30_000_000 == propose_credit_line(100_000_000, policy)


def test_the_proposed_credit_line_is_rounded_down_to_the_minor_unit() -> None:
    assert 0 == propose_credit_line(1, DEFAULT_ESCALATION_POLICY)
    assert 1 == propose_credit_line(3, DEFAULT_ESCALATION_POLICY)


@pytest.mark.parametrize("capital", [-1, 1.0])
def test_a_negative_or_float_registered_capital_is_refused(capital: Any) -> None:
    with pytest.raises(InvalidAmountError):
        propose_credit_line(capital, DEFAULT_ESCALATION_POLICY)


@pytest.mark.parametrize("capital", [-1, 1.0])
def test_a_credit_line_citing_a_negative_or_float_registered_capital_is_refused(
    capital: Any,
) -> None:
    with pytest.raises(InvalidAmountError) as caught:
        set_credit_line(
            given(opened()),
            amount_minor=100,
            effective_on=ON,
            approver="cfo",
            reason="half the capital",
            registered_capital_minor=capital,
            recorded_at=AT,
        )

    assert capital == caught.value.registered_capital_minor


# Risk rating --------------------------------------------------------------------------------


@pytest.mark.parametrize("rating", list(RiskRating))
def test_each_risk_rating_a_to_d_is_recorded_with_its_reason(rating: RiskRating) -> None:
    account = given(opened())

    events = rate_risk(account, rating=rating, rated_on=ON, reason="annual review", recorded_at=AT)

    then([RiskRated(**envelope(2), rating=rating, rated_on=ON, reason="annual review")], events)
    assert rating == after(account, events).risk_rating


def test_a_risk_rating_outside_a_to_d_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        rate_risk(given(opened()), rating="E", rated_on=ON, reason="x", recorded_at=AT)  # type: ignore[arg-type]


def test_a_risk_rating_without_a_reason_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        rate_risk(given(opened()), rating=RiskRating.C, rated_on=ON, reason="", recorded_at=AT)


# Blacklist ----------------------------------------------------------------------------------


def test_a_customer_is_blacklisted_with_a_reason() -> None:
    account = given(opened())

    events = blacklist(account, blacklisted_on=ON, reason="fraud suspected", recorded_at=AT)

    then([blacklisted(2)], events)
    assert after(account, events).is_blacklisted


def test_blacklisting_a_blacklisted_customer_is_refused() -> None:
    with pytest.raises(CustomerStateError) as caught:
        blacklist(given(opened(), blacklisted()), blacklisted_on=ON, reason="again", recorded_at=AT)

    assert CODE == caught.value.customer_code


def test_a_blacklisted_customer_is_cleared() -> None:
    account = given(opened(), blacklisted())

    events = clear_blacklist(account, cleared_on=date(2024, 9, 1), reason="paid", recorded_at=AT)

    then([CustomerCleared(**envelope(3), cleared_on=date(2024, 9, 1), reason="paid")], events)
    assert not after(account, events).is_blacklisted


def test_clearing_a_customer_not_blacklisted_is_refused() -> None:
    with pytest.raises(CustomerStateError) as caught:
        clear_blacklist(given(opened()), cleared_on=ON, reason="paid", recorded_at=AT)

    assert CODE == caught.value.customer_code


def test_a_cleared_customer_can_be_blacklisted_again() -> None:
    account = given(
        opened(),
        blacklisted(),
        CustomerCleared(**envelope(0), cleared_on=ON, reason="paid"),
    )

    events = blacklist(account, blacklisted_on=ON, reason="relapse", recorded_at=AT)

    assert 4 == events[0].originator_version


# Payment terms ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "terms_kind", [PaymentTermsKind.PREPAYMENT, PaymentTermsKind.CASH_ON_DELIVERY]
)
def test_prepayment_and_cash_on_delivery_force_zero_days(terms_kind: PaymentTermsKind) -> None:
    account = given(opened())

    events = change_terms(
        account, terms_kind=terms_kind, terms_days=45, changed_on=ON, recorded_at=AT
    )

    then(
        [PaymentTermsChanged(**envelope(2), terms_kind=terms_kind, terms_days=0, changed_on=ON)],
        events,
    )


def test_net_terms_change_the_number_of_days() -> None:
    account = given(opened())

    events = change_terms(
        account, terms_kind=PaymentTermsKind.NET, terms_days=60, changed_on=ON, recorded_at=AT
    )

    then(
        [
            PaymentTermsChanged(
                **envelope(2), terms_kind=PaymentTermsKind.NET, terms_days=60, changed_on=ON
            )
        ],
        events,
    )


def test_instalment_terms_keep_their_days() -> None:
    account = given(opened())

    events = change_terms(
        account,
        terms_kind=PaymentTermsKind.INSTALMENTS,
        terms_days=90,
        changed_on=ON,
        recorded_at=AT,
    )

    state = after(account, events)
    assert (PaymentTermsKind.INSTALMENTS, 90) == (state.terms_kind, state.terms_days)


def test_changing_terms_to_the_same_terms_is_a_no_op() -> None:
    account = given(opened())

    events = change_terms(
        account, terms_kind=PaymentTermsKind.NET, terms_days=30, changed_on=ON, recorded_at=AT
    )

    then([], events)


@pytest.mark.parametrize("terms_days", [-1, 3651, 1.5])
def test_terms_days_out_of_range_are_refused(terms_days: Any) -> None:
    with pytest.raises(InvalidCommandError):
        change_terms(
            given(opened()),
            terms_kind=PaymentTermsKind.NET,
            terms_days=terms_days,
            changed_on=ON,
            recorded_at=AT,
        )


def issue_after(account: CustomerAccount, issued_on: date) -> InvoiceIssued:
    events = issue_invoice(
        None,
        account,
        invoice_number="INV-9",
        customer_code=CODE,
        amount_minor=10_000,
        currency="USD",
        issued_on=issued_on,
        recorded_at=AT,
    )
    issued = events[0]
    assert isinstance(issued, InvoiceIssued)
    return issued


@pytest.mark.parametrize(
    ("terms_kind", "terms_days", "due_on"),
    [
        (PaymentTermsKind.NET, 60, date(2024, 5, 31)),
        (PaymentTermsKind.INSTALMENTS, 10, date(2024, 4, 11)),
        (PaymentTermsKind.PREPAYMENT, 0, date(2024, 4, 1)),
        (PaymentTermsKind.CASH_ON_DELIVERY, 0, date(2024, 4, 1)),
    ],
)
def test_a_later_invoice_is_due_by_the_new_terms(
    terms_kind: PaymentTermsKind, terms_days: int, due_on: date
) -> None:
    account = given(opened())
    changed = change_terms(
        account, terms_kind=terms_kind, terms_days=terms_days, changed_on=ON, recorded_at=AT
    )
    account = after(account, changed)

    issued = issue_after(account, date(2024, 4, 1))

    assert due_on == issued.due_on


# Payment calendar ---------------------------------------------------------------------------


def test_a_payment_calendar_records_book_closing_and_run_days() -> None:
    account = given(opened())

    events = set_payment_calendar(
        account, book_closing_day=25, payment_run_days=(10, 25), set_on=ON, recorded_at=AT
    )

    then(
        [
            PaymentCalendarSet(
                **envelope(2), book_closing_day=25, payment_run_days=(10, 25), set_on=ON
            )
        ],
        events,
    )
    state = after(account, events)
    assert (25, (10, 25)) == (state.book_closing_day, state.payment_run_days)


def test_a_payment_calendar_may_have_no_closing_day_and_no_run_days() -> None:
    events = set_payment_calendar(
        given(opened()), book_closing_day=None, payment_run_days=(), set_on=ON, recorded_at=AT
    )

    assert 1 == len(events)


@pytest.mark.parametrize(
    ("book_closing_day", "payment_run_days"),
    [
        (None, (0,)),
        (None, (32,)),
        (0, (10,)),
        (32, (10,)),
        (None, (25, 10)),
        (None, (10, 10)),
        (None, (1.0,)),
    ],
)
def test_bad_calendar_days_are_refused(
    book_closing_day: int | None, payment_run_days: tuple[Any, ...]
) -> None:
    with pytest.raises(InvalidCommandError) as caught:
        set_payment_calendar(
            given(opened()),
            book_closing_day=book_closing_day,
            payment_run_days=payment_run_days,
            set_on=ON,
            recorded_at=AT,
        )

    assert CODE == caught.value.customer_code


def test_run_days_one_and_thirty_one_are_the_limits() -> None:
    events = set_payment_calendar(
        given(opened()), book_closing_day=31, payment_run_days=(1, 31), set_on=ON, recorded_at=AT
    )

    assert 1 == len(events)


# Collection owner and key contacts ----------------------------------------------------------


def test_the_collection_owner_is_changed() -> None:
    account = given(opened())

    events = change_owner(account, collection_owner="wang", changed_on=ON, recorded_at=AT)

    then([CollectionOwnerChanged(**envelope(2), collection_owner="wang", changed_on=ON)], events)
    assert "wang" == after(account, events).collection_owner


def test_changing_to_the_same_owner_is_a_no_op() -> None:
    then([], change_owner(given(opened()), collection_owner="li", changed_on=ON, recorded_at=AT))


def test_a_blank_owner_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        change_owner(given(opened()), collection_owner=" ", changed_on=ON, recorded_at=AT)


@pytest.mark.parametrize(
    "role",
    [ContactRole.ACCEPTOR, ContactRole.PAYMENT_RESPONSIBLE, ContactRole.PAYMENT_APPROVER],
)
def test_a_key_contact_is_set_for_each_role(role: ContactRole) -> None:
    account = given(opened())

    events = set_key_contact(
        account,
        role=role,
        name="Ms Zhao",
        phone="+86 10 1234",
        email="zhao@example.com",
        set_on=ON,
        recorded_at=AT,
    )

    then(
        [
            KeyContactSet(
                **envelope(2),
                role=role,
                name="Ms Zhao",
                phone="+86 10 1234",
                email="zhao@example.com",
                set_on=ON,
            )
        ],
        events,
    )
    state = after(account, events)
    assert ("Ms Zhao", "+86 10 1234", "zhao@example.com") == state.contacts[role]


def test_setting_the_same_contact_again_is_a_no_op() -> None:
    account = given(
        opened(),
        KeyContactSet(**envelope(0), role=ContactRole.ACCEPTOR, name="Mr Wu", set_on=ON),
    )

    events = set_key_contact(
        account, role=ContactRole.ACCEPTOR, name="Mr Wu", set_on=ON, recorded_at=AT
    )

    then([], events)


def test_a_new_contact_for_a_role_replaces_the_old_one() -> None:
    account = given(
        opened(),
        KeyContactSet(**envelope(0), role=ContactRole.ACCEPTOR, name="Mr Wu", set_on=ON),
    )

    events = set_key_contact(
        account, role=ContactRole.ACCEPTOR, name="Ms Sun", set_on=ON, recorded_at=AT
    )

    state = after(account, events)
    assert ("Ms Sun", "", "") == state.contacts[ContactRole.ACCEPTOR]


def test_a_contact_with_an_unknown_role_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        set_key_contact(
            given(opened()),
            role="cashier",
            name="Mr Wu",
            set_on=ON,
            recorded_at=AT,  # type: ignore[arg-type]
        )


# Supply hold --------------------------------------------------------------------------------


@pytest.mark.parametrize("by_policy", [True, False])
def test_supply_is_held_by_policy_or_by_hand(by_policy: bool) -> None:
    account = given(opened())

    events = hold_supply(account, held_on=ON, reason="level 3", by_policy=by_policy, recorded_at=AT)

    then([held(2, by_policy=by_policy)], events)
    assert after(account, events).is_supply_held


def test_holding_supply_twice_is_refused() -> None:
    with pytest.raises(CustomerStateError) as caught:
        hold_supply(
            given(opened(), held()), held_on=ON, reason="again", by_policy=False, recorded_at=AT
        )

    assert CODE == caught.value.customer_code


@pytest.mark.parametrize("by_policy", [True, False])
def test_held_supply_is_released_by_policy_or_by_hand(by_policy: bool) -> None:
    account = given(opened(), held())

    events = release_supply(
        account, released_on=date(2024, 4, 1), reason="paid", by_policy=by_policy, recorded_at=AT
    )

    then(
        [
            SupplyReleased(
                **envelope(3), released_on=date(2024, 4, 1), reason="paid", by_policy=by_policy
            )
        ],
        events,
    )
    assert not after(account, events).is_supply_held


def test_releasing_supply_that_is_not_held_is_refused() -> None:
    with pytest.raises(CustomerStateError) as caught:
        release_supply(
            given(opened()), released_on=ON, reason="paid", by_policy=False, recorded_at=AT
        )

    assert CODE == caught.value.customer_code


def test_holding_supply_without_a_reason_is_refused() -> None:
    with pytest.raises(InvalidCommandError):
        hold_supply(given(opened()), held_on=ON, reason="", by_policy=True, recorded_at=AT)


# Balance confirmation -----------------------------------------------------------------------


def test_a_balance_confirmation_is_sent_with_the_ledger_balance() -> None:
    account = given(opened())

    events = send_balance_confirmation(
        account,
        confirmation_reference="BC-1",
        balance_as_of=date(2024, 2, 29),
        ledger_balance_minor=150_000,
        sent_on=ON,
        statement_from_on=OPENED_ON,
        statement_lines=3,
        recorded_at=AT,
    )

    then([sent(2)], events)


def test_sending_the_same_confirmation_again_is_a_no_op() -> None:
    events = send_balance_confirmation(
        given(opened(), sent()),
        confirmation_reference="BC-1",
        balance_as_of=date(2024, 2, 29),
        ledger_balance_minor=150_000,
        sent_on=ON,
        statement_from_on=OPENED_ON,
        statement_lines=3,
        recorded_at=AT,
    )

    then([], events)


def test_sending_a_confirmation_reference_again_with_another_balance_is_refused() -> None:
    with pytest.raises(DuplicateKeyConflictError) as caught:
        send_balance_confirmation(
            given(opened(), sent()),
            confirmation_reference="BC-1",
            balance_as_of=date(2024, 2, 29),
            ledger_balance_minor=1,
            sent_on=ON,
            statement_from_on=OPENED_ON,
            statement_lines=3,
            recorded_at=AT,
        )

    assert "BC-1" == caught.value.confirmation_reference


@pytest.mark.parametrize("confirmed_minor", [150_000, 120_000, 180_000])
def test_an_acknowledgement_keeps_the_signed_difference_from_the_ledger(
    confirmed_minor: int,
) -> None:
    account = given(opened(), sent())

    events = acknowledge_balance_confirmation(
        account,
        confirmation_reference="BC-1",
        confirmed_balance_minor=confirmed_minor,
        acknowledged_on=date(2024, 3, 10),
        recorded_at=AT,
    )

    then(
        [
            BalanceConfirmationAcknowledged(
                **envelope(3),
                confirmation_reference="BC-1",
                confirmed_balance_minor=confirmed_minor,
                ledger_balance_minor=150_000,
                difference_minor=confirmed_minor - 150_000,
                currency="USD",
                acknowledged_on=date(2024, 3, 10),
            )
        ],
        events,
    )


def test_the_portfolio_keeps_the_confirmed_amount_and_the_signed_difference() -> None:
    history = [
        opened(),
        attrs.evolve(sent(), originator_version=2),
        BalanceConfirmationAcknowledged(
            **envelope(3),
            confirmation_reference="BC-1",
            confirmed_balance_minor=120_000,
            ledger_balance_minor=150_000,
            difference_minor=-30_000,
            currency="USD",
            acknowledged_on=date(2024, 3, 10),
        ),
    ]

    state = portfolio.fold_all(history)

    (confirmation,) = state.customers[CUSTOMER_ID].confirmations
    assert 150_000 == confirmation.ledger_balance_minor
    assert 120_000 == confirmation.confirmed_balance_minor
    assert -30_000 == confirmation.difference_minor
    assert date(2024, 3, 10) == confirmation.acknowledged_on


def test_acknowledging_an_unknown_confirmation_raises_a_lookup_error() -> None:
    with pytest.raises(ConfirmationNotFoundError) as caught:
        acknowledge_balance_confirmation(
            given(opened()),
            confirmation_reference="BC-404",
            confirmed_balance_minor=0,
            acknowledged_on=ON,
            recorded_at=AT,
        )

    assert isinstance(caught.value, LookupError)
    assert "BC-404" == caught.value.confirmation_reference
    assert CODE == caught.value.customer_code


def test_acknowledging_a_confirmation_twice_is_refused() -> None:
    account = given(opened(), sent())
    first = acknowledge_balance_confirmation(
        account,
        confirmation_reference="BC-1",
        confirmed_balance_minor=150_000,
        acknowledged_on=ON,
        recorded_at=AT,
    )
    account = after(account, first)

    with pytest.raises(CustomerStateError) as caught:
        acknowledge_balance_confirmation(
            account,
            confirmation_reference="BC-1",
            confirmed_balance_minor=150_000,
            acknowledged_on=ON,
            recorded_at=AT,
        )

    assert "BC-1" == caught.value.confirmation_reference


def test_a_negative_confirmed_balance_is_refused() -> None:
    with pytest.raises(InvalidAmountError):
        acknowledge_balance_confirmation(
            given(opened(), sent()),
            confirmation_reference="BC-1",
            confirmed_balance_minor=-1,
            acknowledged_on=ON,
            recorded_at=AT,
        )


def test_an_acknowledgement_dated_before_the_confirmation_was_sent_is_refused() -> None:
    with pytest.raises(InvalidDateError) as caught:
        acknowledge_balance_confirmation(
            given(opened(), sent()),
            confirmation_reference="BC-1",
            confirmed_balance_minor=150_000,
            acknowledged_on=date(2024, 2, 29),
            recorded_at=AT,
        )

    assert "acknowledged_on" == caught.value.field


def test_an_acknowledgement_on_the_day_the_confirmation_was_sent_is_allowed() -> None:
    events = acknowledge_balance_confirmation(
        given(opened(), sent()),
        confirmation_reference="BC-1",
        confirmed_balance_minor=150_000,
        acknowledged_on=ON,
        recorded_at=AT,
    )

    assert 1 == len(events)


def test_a_release_dated_before_the_hold_is_refused() -> None:
    account = given(opened(), held())

    with pytest.raises(InvalidDateError) as error:
        customer_module.release_supply(
            account, released_on=date(2024, 2, 28), reason="paid", by_policy=False, recorded_at=AT
        )

    assert "released_on" == error.value.field


def test_clearing_a_blacklisting_before_its_date_is_refused() -> None:
    account = given(opened(), blacklisted())

    with pytest.raises(InvalidDateError) as error:
        customer_module.clear_blacklist(
            account, cleared_on=date(2024, 2, 1), reason="paid up", recorded_at=AT
        )

    assert "cleared_on" == error.value.field
