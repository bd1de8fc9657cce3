"""Named results of the Ledger's queries that are more than one read model's row type.

``Worklist`` is the worklist with what it was asked about (as of, owner) and the policy version
that ordered it; it is a sequence of ``WorklistItem`` (most urgent first), so code that iterated
the former list keeps working. ``Explanation`` is a customer's escalation status together with
its text for people. ``PromiseReport`` is a customer's promises to pay judged on a date with
their kept rates; ``CaseReport`` the collection actions taken and the diagnoses made by a date.
All are frozen attrs records, so ``arledger.to_data`` turns them into JSON-ready data like
every other result.

Invariant: a result holds only values (no state, no store); equal inputs give equal results.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import overload
from uuid import UUID

import attrs

from arledger.domain.as_of_log import AsOfLog

from .escalation import EscalationStatus, WorklistItem
from .handover import CashHeld
from .portfolio import ActionFacts, DiagnosisFacts, PortfolioState
from .promises import PromiseJudgement, PromiseRates, judge_all, promise_rates
from .reductions import PendingApproval


@attrs.frozen(kw_only=True)
class Worklist(Sequence[WorklistItem]):
    """Customers needing action on ``as_of`` (level 1 and up), most urgent first, in the order
    of ``worklist_priority`` of the policy version ``policy_version`` (the one in force on
    ``as_of``); only ``owner``'s customers when an owner was asked for."""

    as_of: date
    owner: str | None
    policy_version: int
    items: tuple[WorklistItem, ...]
    as_of_log: AsOfLog | None = attrs.field(default=None, eq=False)
    """The log position the answer reflects, its chain link and commit instant (``AsOfLog``);
    None when built outside a ``Ledger``. Not compared: equal figures are equal answers."""
    cash_held: tuple[CashHeld, ...] = ()
    """Cash and cheques collected in person and held longer than the policy allows, by people
    whose manager is ``owner`` (all of them without an owner): a collector's manager follows
    up money not handed to finance (``projections.handover``)."""
    pending_approvals: tuple[PendingApproval, ...] = ()
    """Reduction requests waiting for approval, oldest first: those ``owner`` may approve
    (as an approver in the authority policy), all of them without an owner
    (``projections.reductions.pending_approvals``)."""

    @overload
    def __getitem__(self, index: int) -> WorklistItem: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[WorklistItem]: ...

    def __getitem__(self, index: int | slice) -> WorklistItem | Sequence[WorklistItem]:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[WorklistItem]:
        return iter(self.items)


@attrs.frozen(kw_only=True)
class Explanation:
    """Why a customer stands at its level on ``as_of``: the status (figures, reasons,
    suspensions, next action, history, next threshold) and ``text``, the same in words
    (``str(explanation)`` is the text)."""

    customer_code: str
    as_of: date
    status: EscalationStatus
    text: str
    as_of_log: AsOfLog | None = attrs.field(default=None, eq=False)
    """The log position the answer reflects, its chain link and commit instant (``AsOfLog``);
    None when built outside a ``Ledger``. Not compared: equal figures are equal answers."""

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(self.text.splitlines())

    def __str__(self) -> str:
        return self.text


@attrs.frozen(kw_only=True)
class PromiseReport:
    """A customer's promises to pay made by ``as_of``, in order of making, each judged on
    ``as_of`` (kept, partly kept, broken, open, withdrawn, superseded, with the tolerance of
    the policy in force on its date), and the kept rates over those judged."""

    customer_code: str
    as_of: date
    currency: str
    promises: tuple[PromiseJudgement, ...]
    rates: PromiseRates
    as_of_log: AsOfLog | None = attrs.field(default=None, eq=False)
    """The log position the answer reflects, its chain link and commit instant (``AsOfLog``);
    None when built outside a ``Ledger``. Not compared: equal figures are equal answers."""


@attrs.frozen(kw_only=True)
class CaseReport:
    """A customer's collection case as of ``as_of``: the actions taken (channel, contact,
    outcome, next step) and the delinquency diagnoses made by then, in recording order."""

    customer_code: str
    as_of: date
    actions: tuple[ActionFacts, ...]
    diagnoses: tuple[DiagnosisFacts, ...]
    as_of_log: AsOfLog | None = attrs.field(default=None, eq=False)
    """The log position the answer reflects, its chain link and commit instant (``AsOfLog``);
    None when built outside a ``Ledger``. Not compared: equal figures are equal answers."""


def promise_report(state: PortfolioState, customer_id: UUID, as_of: date) -> PromiseReport:
    """The customer's promises judged on ``as_of`` (``promises.judge_all``) with their rates."""
    customer = state.customers[customer_id]
    judgements = tuple(judge_all(state, as_of, customer_id=customer_id))
    return PromiseReport(
        customer_code=customer.customer_code,
        as_of=as_of,
        currency=customer.currency,
        promises=judgements,
        rates=promise_rates(judgements),
    )


def case_report(state: PortfolioState, customer_id: UUID, as_of: date) -> CaseReport:
    """The customer's actions and diagnoses dated on or before ``as_of``."""
    return CaseReport(
        customer_code=state.customers[customer_id].customer_code,
        as_of=as_of,
        actions=tuple(
            action for action in state.actions.get(customer_id, []) if action.taken_on <= as_of
        ),
        diagnoses=tuple(
            diagnosis
            for diagnosis in state.diagnoses.get(customer_id, [])
            if diagnosis.diagnosed_on <= as_of
        ),
    )
