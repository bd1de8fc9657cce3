"""Reconciliation items (issue 12.5): a difference a customer acknowledges on a balance
confirmation opens one; a credit note, a payment found or a dispute of the customer resolves
it, or an approver accepts it. The domain rules on the customer aggregate, and the portfolio
facts and escalation queries that show open items."""

from __future__ import annotations

from datetime import date
from typing import Any

import attrs
import pytest

from arledger.domain.customer import (
    CustomerAccount,
    accept_reconciliation,
    resolve_reconciliation,
    send_balance_confirmation,
)
from arledger.domain.errors import (
    CustomerStateError,
    DuplicateKeyConflictError,
    InvalidChoiceError,
    InvalidDateError,
    InvalidTextError,
    ReconciliationNotFoundError,
    ReconciliationReferenceError,
)
from arledger.domain.events import (
    BalanceConfirmationAcknowledged,
    Event,
    ReconciliationResolution,
    ReconciliationResolved,
)
from arledger.projections import escalation, portfolio
from arledger.projections.portfolio import OpenReconciliation
from tests.given import given_customer as given
from tests.given import then
from tests.unit.test_collections_customer import AT, CODE, CUSTOMER_ID, envelope, opened, sent

ACKNOWLEDGED_ON = date(2024, 3, 10)
RESOLVED_ON = date(2024, 3, 20)


def acknowledged(version: int = 0, *, confirmed_minor: int = 120_000) -> Event:
    return BalanceConfirmationAcknowledged(
        **envelope(version),
        confirmation_reference="BC-1",
        confirmed_balance_minor=confirmed_minor,
        ledger_balance_minor=150_000,
        difference_minor=confirmed_minor - 150_000,
        currency="USD",
        acknowledged_on=ACKNOWLEDGED_ON,
    )


def with_difference(*, from_statement: bool = True) -> CustomerAccount:
    return given(opened(), sent(from_statement=from_statement), acknowledged())


def resolve(account: CustomerAccount, **changes: Any) -> list[Event]:
    arguments: dict[str, Any] = {
        "confirmation_reference": "BC-1",
        "resolution": ReconciliationResolution.PAYMENT,
        "reference": "BANK-9",
        "reference_on": date(2024, 2, 27),
        "resolved_on": RESOLVED_ON,
        "note": "paid before the statement's end, applied late",
        "recorded_at": AT,
    }
    return resolve_reconciliation(account, **{**arguments, **changes})


@pytest.mark.parametrize(
    "resolution",
    [
        ReconciliationResolution.CREDIT_NOTE,
        ReconciliationResolution.PAYMENT,
        ReconciliationResolution.DISPUTE,
    ],
)
def test_a_difference_is_resolved_by_the_fact_that_explains_it(
    resolution: ReconciliationResolution,
) -> None:
    account = with_difference()
    assert {"BC-1": ACKNOWLEDGED_ON} == account.reconciliations_open

    events = resolve(account, resolution=resolution, reference="REF-1")

    then(
        [
            ReconciliationResolved(
                **envelope(4),
                confirmation_reference="BC-1",
                resolution=resolution,
                reference="REF-1",
                approver="",
                resolved_on=RESOLVED_ON,
                note="paid before the statement's end, applied late",
            )
        ],
        events,
    )
    closed = given(opened(), sent(), acknowledged(), *events)
    assert {} == closed.reconciliations_open
    assert {"BC-1"} == closed.reconciliations_closed


def test_a_difference_is_accepted_by_a_named_approver() -> None:
    events = accept_reconciliation(
        with_difference(),
        confirmation_reference="BC-1",
        approver="cfo",
        accepted_on=RESOLVED_ON,
        reason="not worth chasing",
        recorded_at=AT,
    )

    assert [("accepted", "", "cfo")] == [
        (event.resolution.value, event.reference, event.approver)
        for event in events
        if isinstance(event, ReconciliationResolved)
    ]


def test_an_acknowledgement_without_a_difference_opens_no_item() -> None:
    account = given(opened(), sent(), acknowledged(confirmed_minor=150_000))

    assert {} == account.reconciliations_open
    with pytest.raises(ReconciliationNotFoundError, match="without a difference") as caught:
        resolve(account)
    assert isinstance(caught.value, LookupError)
    assert "BC-1" == caught.value.confirmation_reference


@pytest.mark.parametrize(
    ("history", "why"),
    [
        ((), "no such confirmation was sent"),
        ((sent(),), "it is not acknowledged"),
    ],
)
def test_an_unknown_item_is_refused(history: tuple[Event, ...], why: str) -> None:
    with pytest.raises(ReconciliationNotFoundError, match=why) as caught:
        resolve(given(opened(), *history))

    assert CODE == caught.value.customer_code


def test_an_item_resolved_once_is_not_resolved_again() -> None:
    account = with_difference()
    closed = given(opened(), sent(), acknowledged(), *resolve(account))

    with pytest.raises(CustomerStateError, match="already resolved"):
        resolve(closed, resolution=ReconciliationResolution.CREDIT_NOTE)
    with pytest.raises(CustomerStateError, match="already resolved"):
        accept_reconciliation(
            closed,
            confirmation_reference="BC-1",
            approver="cfo",
            accepted_on=RESOLVED_ON,
            reason="again",
            recorded_at=AT,
        )


def test_a_reference_the_log_does_not_hold_for_the_customer_is_refused() -> None:
    with pytest.raises(ReconciliationReferenceError) as caught:
        resolve(with_difference(), reference_on=None)

    assert ("payment", "BANK-9") == (caught.value.resolution, caught.value.reference)
    assert isinstance(caught.value, LookupError)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"resolved_on": date(2024, 3, 9)}, InvalidDateError),  # before the item opened
        ({"reference_on": date(2024, 3, 21)}, InvalidDateError),  # the payment came later
        ({"resolution": ReconciliationResolution.ACCEPTED}, InvalidChoiceError),
        ({"resolution": "payment"}, InvalidChoiceError),
        ({"reference": ""}, InvalidTextError),
        ({"note": ""}, InvalidTextError),
    ],
)
def test_bad_resolutions_are_refused(changes: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        resolve(with_difference(), **changes)


def test_accepting_without_an_approver_is_refused() -> None:
    with pytest.raises(InvalidTextError):
        accept_reconciliation(
            with_difference(),
            confirmation_reference="BC-1",
            approver="",
            accepted_on=RESOLVED_ON,
            reason="small",
            recorded_at=AT,
        )


def test_a_confirmation_recorded_before_statements_still_opens_and_closes_an_item() -> None:
    """Old ``BalanceConfirmationSent`` events carry no statement: they load as they are."""
    account = with_difference(from_statement=False)

    assert [] != resolve(account)
    state = portfolio.fold_all([opened(), sent(2, from_statement=False)])
    (confirmation,) = state.customers[CUSTOMER_ID].confirmations
    assert (None, None) == (confirmation.statement_from_on, confirmation.statement_lines)


@pytest.mark.parametrize(
    ("from_statement", "expected"), [(True, DuplicateKeyConflictError), (False, None)]
)
def test_sending_a_confirmation_again_for_another_period_conflicts_unless_it_had_none(
    from_statement: bool, expected: type[Exception] | None
) -> None:
    def again() -> list[Event]:
        return send_balance_confirmation(
            given(opened(), sent(from_statement=from_statement)),
            confirmation_reference="BC-1",
            balance_as_of=date(2024, 2, 29),
            ledger_balance_minor=150_000,
            sent_on=date(2024, 3, 1),
            statement_from_on=date(2024, 2, 1),
            statement_lines=2,
            recorded_at=AT,
        )

    if expected is None:
        assert [] == again()
    else:
        with pytest.raises(expected):
            again()


def test_the_item_is_open_from_the_acknowledgement_until_the_resolution_date() -> None:
    history = [
        opened(),
        attrs.evolve(sent(), originator_version=2),
        acknowledged(3),
        *resolve(with_difference()),
    ]
    state = portfolio.fold_all(history)
    customer = state.customers[CUSTOMER_ID]
    item = OpenReconciliation(
        confirmation_reference="BC-1",
        difference_minor=-30_000,
        currency="USD",
        opened_on=ACKNOWLEDGED_ON,
    )

    assert () == customer.reconciliations_open_on(date(2024, 3, 9))
    assert (item,) == customer.reconciliations_open_on(ACKNOWLEDGED_ON)
    assert (item,) == customer.reconciliations_open_on(date(2024, 3, 19))
    assert () == customer.reconciliations_open_on(RESOLVED_ON)


def test_an_open_item_puts_a_customer_at_level_0_on_the_worklist_and_in_its_explanation() -> None:
    state = portfolio.fold_all([opened(), attrs.evolve(sent(), originator_version=2)])
    state = portfolio.fold(state, acknowledged(3))

    (item,) = escalation.worklist(state, date(2024, 3, 15))
    assert (0, CODE) == (item.level, item.customer_code)
    assert ["BC-1"] == [found.confirmation_reference for found in item.reconciliations]
    assert [] == escalation.worklist(state, date(2024, 3, 9))
    status = escalation.escalation_status(state, CUSTOMER_ID, date(2024, 3, 15))
    assert item.reconciliations == status.reconciliations
    text = escalation.explain(state, CUSTOMER_ID, date(2024, 3, 15))
    assert "confirmation BC-1: difference -300.00 USD open since 2024-03-10" in text
