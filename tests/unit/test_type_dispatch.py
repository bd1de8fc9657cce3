"""``TypeDispatch``: the fold of an event found by its class, as ``isinstance`` would find it."""

from __future__ import annotations

import pytest

from arledger.projections.dispatch import TypeDispatch


class Opened:
    pass


class Reopened(Opened):
    """A subclass: folded as its base is, unless it has a fold of its own."""


class Closed:
    pass


class Other:
    pass


def test_an_event_is_folded_by_its_class_or_its_base_and_others_are_left_alone() -> None:
    folds = TypeDispatch[list[str]]()

    @folds.on(Opened)
    def opened(state: list[str], event: Opened) -> None:
        state.append(f"opened {type(event).__name__}")

    @folds.on(Closed)
    def closed(state: list[str], event: Closed) -> None:
        state.append("closed")

    state: list[str] = []
    for event in (Opened(), Reopened(), Other(), Closed(), Reopened()):
        folds.fold(state, event)

    assert ["opened Opened", "opened Reopened", "closed", "opened Reopened"] == state
    assert (True, True, False) == tuple(map(folds.handles, (Opened, Reopened, Other)))


def test_a_subclass_registered_later_takes_its_own_fold() -> None:
    folds = TypeDispatch[list[str]]()
    folds.on(Opened)(lambda state, event: state.append("base"))
    state: list[str] = []
    folds.fold(state, Reopened())  # resolved (and cached) through the base

    folds.on(Reopened)(lambda state, event: state.append("own"))
    folds.fold(state, Reopened())

    assert ["base", "own"] == state


def test_a_class_has_one_fold() -> None:
    folds = TypeDispatch[list[str]]()
    folds.on(Opened)(lambda state, event: None)

    with pytest.raises(ValueError, match="Opened already has a fold"):
        folds.on(Opened)(lambda state, event: None)


def test_every_ledger_event_is_folded_by_the_portfolio_or_named_as_not() -> None:
    """The portfolio read model folds each event class through its own dispatch or the
    ageing fold's; the ones neither folds are listed here, so that a new event class is a
    decision rather than silently ignored."""
    from arledger.adapters.read_models.columnar import EVENT_CLASSES
    from arledger.projections import ageing, portfolio

    not_folded = {
        name
        for name, cls in EVENT_CLASSES.items()
        if not (portfolio._FOLDS.handles(cls) or ageing._FOLDS.handles(cls))
    }

    assert NOT_IN_THE_PORTFOLIO == not_folded


NOT_IN_THE_PORTFOLIO = {
    # Allocation rules, goods in lieu until applied, cash handed over, exchange rates,
    # authority and reduction workflow: read from their aggregates or the columnar log, not
    # from the portfolio partitions.
    "AllocationRuleAdopted",
    "AuthorityPolicyAdopted",
    "CashHandedOver",
    "CreditNoteRegistered",
    "ExchangeRateRecorded",
    "GoodsInLieuApproved",
    "GoodsInLieuProposed",
    "GoodsInLieuSettled",
    "PaymentAllocated",
    "PaymentCollected",
    "ReductionApproved",
    "ReductionRejected",
    "ReductionRequested",
}
