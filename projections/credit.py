"""Credit check: may the customer take a new order on a date, and if not, every reason why.

Exposure = what the customer owes on ``as_of`` in the order's currency (all open invoices,
disputed or not, overdue or not) + the order. The order is blocked when any of these holds, and
every one that holds is listed, not only the first:
- no credit line was set by ``as_of``, or the exposure is over the line (by how much);
- the customer is on the blacklist on ``as_of``;
- supply is on hold on ``as_of`` (a recorded ``SupplyHeld`` not yet released);
- the customer's escalation level on ``as_of`` (after any promise suspension) is at or above the
  ``credit_block_level`` of the policy then in force.
Invariant: approved if and only if there is no reason; like every as-of query, the decision
depends only on facts dated on or before ``as_of``.
"""

from __future__ import annotations

import enum
from datetime import date
from uuid import UUID

import attrs

from arledger.domain.as_of_log import AsOfLog
from arledger.domain.errors import AccountCurrencyError, CustomerNotFoundError, InvalidAmountError
from arledger.domain.rules import require_date

from . import escalation
from .portfolio import PortfolioState


class CreditReasonKind(enum.Enum):
    NO_CREDIT_LINE = "no_credit_line"
    OVER_CREDIT_LINE = "over_credit_line"
    BLACKLISTED = "blacklisted"
    SUPPLY_HELD = "supply_held"
    ESCALATION_LEVEL = "escalation_level"


@attrs.frozen(kw_only=True)
class CreditReason:
    kind: CreditReasonKind
    message: str
    excess_minor: int | None = None
    """For OVER_CREDIT_LINE: exposure - credit line."""
    level: int | None = None
    """For ESCALATION_LEVEL: the customer's level."""


@attrs.frozen(kw_only=True)
class CreditDecision:
    customer_id: UUID
    customer_code: str
    as_of: date
    currency: str
    approved: bool
    reasons: tuple[CreditReason, ...]
    order_minor: int
    open_minor: int
    exposure_minor: int
    credit_line_minor: int | None
    """None when no line was ever set by ``as_of``; 0 means no credit granted."""
    headroom_minor: int | None
    """credit line - exposure (negative when over the line); None without a line."""
    level: int
    credit_block_level: int
    policy_version: int
    as_of_log: AsOfLog | None = attrs.field(default=None, eq=False)
    """The log position the answer reflects, its chain link and commit instant (``AsOfLog``);
    None when built outside a ``Ledger``. Not compared: equal figures are equal answers."""

    @property
    def kinds(self) -> tuple[CreditReasonKind, ...]:
        return tuple(reason.kind for reason in self.reasons)


def check_credit(
    state: PortfolioState,
    customer_id: UUID,
    *,
    order_amount_minor: int,
    currency: str,
    as_of: date,
) -> CreditDecision:
    """Approve or block an order of ``order_amount_minor`` on ``as_of``, with every reason.

    Raises:
        AccountCurrencyError: the order is not in the account's currency.
        InvalidAmountError: the order amount is negative.
        CustomerNotFoundError: no such customer in the portfolio.
        InvalidDateError: ``as_of`` is outside the dates the ledger accepts.
    """
    require_date("as_of", as_of)
    customer = state.customers.get(customer_id)
    if customer is None:
        raise CustomerNotFoundError(f"no customer with id {customer_id}", customer_id=customer_id)
    if currency != customer.currency:
        raise AccountCurrencyError(
            f"an order in {currency} for {customer.customer_code}'s account in {customer.currency}",
            customer_code=customer.customer_code,
            account_currency=customer.currency,
            currency=currency,
            other_currency=customer.currency,
        )
    if order_amount_minor < 0:
        raise InvalidAmountError(
            "an order amount cannot be negative", amount_minor=order_amount_minor
        )
    open_minor = sum(
        invoice.open_minor_on(as_of)
        for invoice in state.invoices_of(customer_id)
        if invoice.currency == currency
    )
    exposure = open_minor + order_amount_minor
    line = customer.credit_line_on(as_of)
    status = escalation.escalation_status(state, customer_id, as_of)
    policy = state.policy_on(as_of)
    reasons = []
    if line is None:
        reasons.append(
            CreditReason(
                kind=CreditReasonKind.NO_CREDIT_LINE,
                message=f"no credit line set for {customer.customer_code} by {as_of}",
            )
        )
    elif exposure > line:
        excess = exposure - line
        reasons.append(
            CreditReason(
                kind=CreditReasonKind.OVER_CREDIT_LINE,
                message=(
                    f"exposure {escalation.format_money(exposure, currency)} is over the credit "
                    f"line {escalation.format_money(line, currency)} by "
                    f"{escalation.format_money(excess, currency)}"
                ),
                excess_minor=excess,
            )
        )
    if customer.is_blacklisted_on(as_of):
        reasons.append(
            CreditReason(
                kind=CreditReasonKind.BLACKLISTED,
                message=f"{customer.customer_code} is on the blacklist",
            )
        )
    if customer.is_supply_held_on(as_of):
        reasons.append(
            CreditReason(
                kind=CreditReasonKind.SUPPLY_HELD,
                message=f"supply to {customer.customer_code} is on hold",
            )
        )
    if status.level >= policy.credit_block_level:
        reasons.append(
            CreditReason(
                kind=CreditReasonKind.ESCALATION_LEVEL,
                message=(
                    f"escalation level {status.level} {status.level_name} is at or above the "
                    f"credit block level {policy.credit_block_level} "
                    f"(policy version {policy.version})"
                ),
                level=status.level,
            )
        )
    return CreditDecision(
        customer_id=customer_id,
        customer_code=customer.customer_code,
        as_of=as_of,
        currency=currency,
        approved=not reasons,
        reasons=tuple(reasons),
        order_minor=order_amount_minor,
        open_minor=open_minor,
        exposure_minor=exposure,
        credit_line_minor=line,
        headroom_minor=None if line is None else line - exposure,
        level=status.level,
        credit_block_level=policy.credit_block_level,
        policy_version=policy.version,
    )
