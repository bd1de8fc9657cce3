"""Customer account aggregate: who the customer is, its terms, owner, credit and its invoices.

Invariant: an account is opened once; its invoice index lists each invoice once; the blacklist
and supply hold flags only change through their own events, and only from the other state.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Final, TypedDict, assert_never
from uuid import UUID

import attrs
from pyrsistent import pset, pvector
from pyrsistent.typing import PSet, PVector

from . import goods_in_lieu, ids
from .errors import (
    AccountCurrencyError,
    ConfirmationNotFoundError,
    CustomerStateError,
    DuplicateKeyConflictError,
    InvalidAmountError,
    InvalidChoiceError,
    InvalidCommandError,
    InvalidDateError,
    ReconciliationNotFoundError,
    ReconciliationReferenceError,
)
from .events import (
    AllocationRule,
    AllocationRuleAdopted,
    BalanceConfirmationAcknowledged,
    BalanceConfirmationSent,
    BankruptcyFiled,
    CollectionOwnerChanged,
    CollectionTargetSet,
    ContactRole,
    CreditLineSet,
    CustomerAccountOpened,
    CustomerBlacklisted,
    CustomerCleared,
    CustomerEvent,
    Event,
    FraudSuspected,
    GoodsInLieuApproved,
    GoodsInLieuProposed,
    GoodsInLieuSettled,
    InvoiceAddedToAccount,
    KeyContactSet,
    PaymentCalendarSet,
    PaymentTermsChanged,
    PaymentTermsKind,
    ReconciliationResolution,
    ReconciliationResolved,
    RiskRated,
    RiskRating,
    SupplyHeld,
    SupplyReleased,
)
from .goods_in_lieu import GoodsSettlement
from .money import check_currency
from .policy import EscalationPolicy
from .rules import (
    TERMS_DAYS_MAX,
    require_date,
    require_key,
    require_person,
    require_positive,
    require_reason,
    require_recorded_at,
    require_text,
)

DEFAULT_TERMS_DAYS: Final = 30
"""Net days when an account is opened without terms."""


@attrs.frozen(kw_only=True)
class CustomerAccount:
    id: UUID
    version: int
    customer_code: str
    name: str
    currency: str
    collection_owner: str
    terms_kind: PaymentTermsKind
    terms_days: int
    opened_on: date
    # The account's invoices in the order added (``invoice_ids``), and the same ids as a set for
    # the membership the invariant and ``add_invoice`` ask. Both persistent (pyrsistent): the
    # state after one more invoice shares the earlier one's structure, O(log n). As a tuple and
    # a frozenset they were copied whole at each invoice, so replaying an account was n squared:
    # 5.5 s of CPU for one of 22,000 invoices, at every command on it and in every verify.
    invoice_vector: PVector[UUID] = attrs.field(factory=pvector, repr=False)
    invoice_id_set: PSet[UUID] = attrs.field(factory=pset, eq=False, repr=False)
    credit_line_minor: int | None = None
    risk_rating: RiskRating | None = None
    is_blacklisted: bool = False
    is_supply_held: bool = False
    # Dates of the latest change of each flag: the opposite change may not be dated before it.
    blacklist_changed_on: date | None = None
    supply_changed_on: date | None = None
    book_closing_day: int | None = None
    payment_run_days: tuple[int, ...] = ()
    contacts: dict[ContactRole, tuple[str, str, str]] = attrs.field(factory=dict)
    confirmations_sent: dict[str, int] = attrs.field(factory=dict)
    confirmations_sent_on: dict[str, date] = attrs.field(factory=dict)
    confirmations_acknowledged: frozenset[str] = frozenset()
    confirmations_from_on: dict[str, date | None] = attrs.field(factory=dict)
    # Reconciliation items by confirmation reference: open ones with the day they opened (the
    # acknowledgement's), and those resolved or accepted.
    reconciliations_open: dict[str, date] = attrs.field(factory=dict)
    reconciliations_closed: frozenset[str] = frozenset()
    # Allocation rules adopted, (effective on, rule), in adoption order (dates never go back).
    allocation_rules: tuple[tuple[date, AllocationRule], ...] = ()
    # Settlements in goods [以物抵债] by reference (``goods_in_lieu``).
    goods_settlements: dict[str, GoodsSettlement] = attrs.field(factory=dict)
    # Monthly collection plans [追款计划]: the target in force per month (its first day).
    collection_targets: dict[date, int] = attrs.field(factory=dict)
    # Distress: the day a bankruptcy was filed, and the day fraud was first suspected.
    bankruptcy_filed_on: date | None = None
    fraud_suspected_on: date | None = None

    @property
    def invoice_ids(self) -> tuple[UUID, ...]:
        """The account's invoices in the order they were added (a copy, made at each call)."""
        return tuple(self.invoice_vector)

    def allocation_rule_on(self, on: date) -> tuple[AllocationRule, date | None]:
        """The allocation rule in force on ``on`` and the date it took effect (None: the
        default, ``OLDEST_DUE_FIRST``, in force until the first adoption)."""
        in_force: tuple[AllocationRule, date | None] = (AllocationRule.OLDEST_DUE_FIRST, None)
        for effective_on, rule in self.allocation_rules:
            if effective_on <= on:
                in_force = (rule, effective_on)
        return in_force

    def due_on_for(self, issued_on: date) -> date:
        """The due date the account's terms give an invoice issued on ``issued_on``."""
        if (
            self.terms_kind is PaymentTermsKind.NET
            or self.terms_kind is PaymentTermsKind.INSTALMENTS
        ):
            return issued_on + timedelta(days=self.terms_days)
        return issued_on


def require_account_currency(
    account: CustomerAccount, currency: str, what: str, **keys: str
) -> None:
    """A customer has one currency, its account's: invoices, payments, credit notes and orders
    in another are refused (amounts in two currencies can never be added into one figure)."""
    if currency != account.currency:
        raise AccountCurrencyError(
            f"{what} is in {currency}; {account.customer_code}'s account is in {account.currency}",
            customer_code=account.customer_code,
            account_currency=account.currency,
            currency=currency,
            other_currency=account.currency,
            **keys,
        )


def evolve(state: CustomerAccount | None, event: Event) -> CustomerAccount:
    """Apply one customer event; no validation beyond invariants."""
    assert isinstance(event, CustomerEvent), f"not a customer event: {type(event).__name__}"
    if isinstance(event, CustomerAccountOpened):
        assert state is None
        return CustomerAccount(
            id=event.originator_id,
            version=event.originator_version,
            customer_code=event.customer_code,
            name=event.name,
            currency=event.currency,
            collection_owner=event.collection_owner,
            terms_kind=event.terms_kind,
            terms_days=event.terms_days,
            opened_on=event.opened_on,
        )
    assert state is not None
    assert event.originator_version == state.version + 1
    version = event.originator_version
    match event:
        case InvoiceAddedToAccount():
            assert event.invoice_id not in state.invoice_id_set
            return attrs.evolve(
                state,
                version=event.originator_version,
                invoice_vector=state.invoice_vector.append(event.invoice_id),
                invoice_id_set=state.invoice_id_set.add(event.invoice_id),
            )
        case CreditLineSet():
            return attrs.evolve(state, version=version, credit_line_minor=event.amount_minor)
        case RiskRated():
            return attrs.evolve(state, version=version, risk_rating=event.rating)
        case CustomerBlacklisted():
            assert not state.is_blacklisted
            return attrs.evolve(
                state,
                version=version,
                is_blacklisted=True,
                blacklist_changed_on=event.blacklisted_on,
            )
        case BankruptcyFiled():
            assert state.bankruptcy_filed_on is None
            return attrs.evolve(state, version=version, bankruptcy_filed_on=event.filed_on)
        case FraudSuspected():
            assert state.fraud_suspected_on is None
            return attrs.evolve(state, version=version, fraud_suspected_on=event.suspected_on)
        case CustomerCleared():
            assert state.is_blacklisted
            return attrs.evolve(
                state, version=version, is_blacklisted=False, blacklist_changed_on=event.cleared_on
            )
        case PaymentTermsChanged():
            return attrs.evolve(
                state, version=version, terms_kind=event.terms_kind, terms_days=event.terms_days
            )
        case PaymentCalendarSet():
            return attrs.evolve(
                state,
                version=version,
                book_closing_day=event.book_closing_day,
                payment_run_days=event.payment_run_days,
            )
        case CollectionOwnerChanged():
            return attrs.evolve(state, version=version, collection_owner=event.collection_owner)
        case KeyContactSet():
            contacts = dict(state.contacts)
            contacts[event.role] = (event.name, event.phone, event.email)
            return attrs.evolve(state, version=version, contacts=contacts)
        case SupplyHeld():
            assert not state.is_supply_held
            return attrs.evolve(
                state, version=version, is_supply_held=True, supply_changed_on=event.held_on
            )
        case SupplyReleased():
            assert state.is_supply_held
            return attrs.evolve(
                state, version=version, is_supply_held=False, supply_changed_on=event.released_on
            )
        case BalanceConfirmationSent():
            sent = dict(state.confirmations_sent)
            sent[event.confirmation_reference] = event.ledger_balance_minor
            sent_on = dict(state.confirmations_sent_on)
            sent_on[event.confirmation_reference] = event.sent_on
            from_on = dict(state.confirmations_from_on)
            from_on[event.confirmation_reference] = event.statement_from_on
            return attrs.evolve(
                state,
                version=version,
                confirmations_sent=sent,
                confirmations_sent_on=sent_on,
                confirmations_from_on=from_on,
            )
        case BalanceConfirmationAcknowledged():
            assert event.confirmation_reference in state.confirmations_sent
            opened = state.reconciliations_open
            if event.difference_minor != 0:
                opened = {**opened, event.confirmation_reference: event.acknowledged_on}
            return attrs.evolve(
                state,
                version=version,
                confirmations_acknowledged=state.confirmations_acknowledged
                | {event.confirmation_reference},
                reconciliations_open=opened,
            )
        case ReconciliationResolved():
            opened = dict(state.reconciliations_open)
            del opened[event.confirmation_reference]
            return attrs.evolve(
                state,
                version=version,
                reconciliations_open=opened,
                reconciliations_closed=state.reconciliations_closed
                | {event.confirmation_reference},
            )
        case AllocationRuleAdopted():
            assert not state.allocation_rules or state.allocation_rules[-1][0] <= event.effective_on
            return attrs.evolve(
                state,
                version=version,
                allocation_rules=(*state.allocation_rules, (event.effective_on, event.rule)),
            )
        case GoodsInLieuProposed() | GoodsInLieuApproved() | GoodsInLieuSettled():
            return attrs.evolve(
                state,
                version=version,
                goods_settlements=goods_in_lieu.evolve(state.goods_settlements, event),
            )
        case CollectionTargetSet():
            assert event.month_on.day == 1
            return attrs.evolve(
                state,
                version=version,
                collection_targets={**state.collection_targets, event.month_on: event.amount_minor},
            )
        case _ as unreachable:
            assert_never(unreachable)


def fold(events: Iterable[Event], state: CustomerAccount | None = None) -> CustomerAccount | None:
    for event in events:
        state = evolve(state, event)
    return state


def open_account(
    existing: CustomerAccount | None,
    *,
    customer_code: str,
    name: str,
    currency: str,
    collection_owner: str,
    opened_on: date,
    terms_kind: PaymentTermsKind = PaymentTermsKind.NET,
    terms_days: int = DEFAULT_TERMS_DAYS,
    recorded_at: datetime,
) -> list[Event]:
    """Open a customer account; repeating the same opening is a no-op."""
    require_key("customer_code", customer_code)
    require_text("name", name)
    check_currency(currency)
    require_person("collection_owner", collection_owner)
    require_date("opened_on", opened_on)
    require_recorded_at(recorded_at)
    terms_kind, terms_days = _check_terms(terms_kind, terms_days)
    account_id = ids.customer_id(customer_code)
    opened = CustomerAccountOpened(
        originator_id=account_id,
        originator_version=1,
        timestamp=recorded_at,
        customer_code=customer_code,
        name=name,
        currency=currency,
        collection_owner=collection_owner,
        terms_kind=terms_kind,
        terms_days=terms_days,
        opened_on=opened_on,
    )
    if existing is not None:
        same = (
            existing.customer_code == customer_code
            and existing.name == name
            and existing.currency == currency
            and existing.collection_owner == collection_owner
            and existing.terms_kind == terms_kind
            and existing.terms_days == terms_days
            and existing.opened_on == opened_on
        )
        if same:
            return []
        raise DuplicateKeyConflictError(
            f"customer {customer_code} is already open with different details",
            customer_code=customer_code,
            customer_id=account_id,
        )
    return [opened]


def add_invoice(
    account: CustomerAccount, *, invoice_id: UUID, invoice_number: str, recorded_at: datetime
) -> list[Event]:
    if invoice_id in account.invoice_id_set:
        return []
    return [
        InvoiceAddedToAccount(
            originator_id=account.id,
            originator_version=account.version + 1,
            timestamp=recorded_at,
            invoice_id=invoice_id,
            invoice_number=invoice_number,
        )
    ]


# Collections commands -------------------------------------------------------------------------


class Envelope(TypedDict):
    originator_id: UUID
    originator_version: int
    timestamp: datetime


def _next(account: CustomerAccount, recorded_at: datetime) -> Envelope:
    """The envelope of the account's next event."""
    require_recorded_at(recorded_at)
    return Envelope(
        originator_id=account.id, originator_version=account.version + 1, timestamp=recorded_at
    )


def propose_credit_line(registered_capital_minor: int, policy: EscalationPolicy) -> int:
    """The house rule: a share of registered capital (default 50%), rounded down to a unit."""
    if type(registered_capital_minor) is not int or registered_capital_minor < 0:
        raise InvalidAmountError(
            f"registered capital must be a non-negative int of minor units, got "
            f"{registered_capital_minor!r}",
            registered_capital_minor=registered_capital_minor,
        )
    # Rounded down: a proposed line never exceeds the policy's share of the capital.
    return registered_capital_minor * policy.credit_line_capital_ratio_bps // 10000


def _require_not_before_change(
    account: CustomerAccount, field: str, on: date, changed_on: date | None
) -> None:
    """A flag's change may not be dated before its previous change (an as-of history of the
    blacklist or the supply hold must read in date order)."""
    if changed_on is not None and on < changed_on:
        raise InvalidDateError(
            f"customer {account.customer_code}: {field} {on} is before the previous change "
            f"on {changed_on}",
            customer_code=account.customer_code,
            field=field,
        )


def set_credit_line(
    account: CustomerAccount,
    *,
    amount_minor: int,
    effective_on: date,
    approver: str,
    reason: str,
    registered_capital_minor: int | None = None,
    recorded_at: datetime,
) -> list[Event]:
    """Grant or change the credit line (0 = no credit); always approved by a named person."""
    if type(amount_minor) is not int or amount_minor < 0:
        raise InvalidAmountError(
            f"credit line must be a non-negative int of minor units, got {amount_minor!r}",
            customer_code=account.customer_code,
            amount_minor=amount_minor,
        )
    require_date("effective_on", effective_on)
    require_person("approver", approver)
    require_reason("reason", reason)
    if registered_capital_minor is not None and (
        type(registered_capital_minor) is not int or registered_capital_minor < 0
    ):
        raise InvalidAmountError(
            f"registered capital must be a non-negative int of minor units, got "
            f"{registered_capital_minor!r}",
            customer_code=account.customer_code,
            registered_capital_minor=registered_capital_minor,
        )
    return [
        CreditLineSet(
            **_next(account, recorded_at),
            amount_minor=amount_minor,
            currency=account.currency,
            effective_on=effective_on,
            approver=approver,
            reason=reason,
            registered_capital_minor=registered_capital_minor,
        )
    ]


def rate_risk(
    account: CustomerAccount,
    *,
    rating: RiskRating,
    rated_on: date,
    reason: str,
    recorded_at: datetime,
) -> list[Event]:
    if not isinstance(rating, RiskRating):
        raise InvalidChoiceError(
            f"risk rating must be A, B, C or D, got {rating!r}", field="rating", value=rating
        )
    require_date("rated_on", rated_on)
    require_reason("reason", reason)
    return [
        RiskRated(
            **_next(account, recorded_at),
            rating=rating,
            rated_on=rated_on,
            reason=reason,
        )
    ]


def blacklist(
    account: CustomerAccount, *, blacklisted_on: date, reason: str, recorded_at: datetime
) -> list[Event]:
    require_date("blacklisted_on", blacklisted_on)
    require_reason("reason", reason)
    if account.is_blacklisted:
        raise CustomerStateError(
            f"customer {account.customer_code} is already blacklisted",
            customer_code=account.customer_code,
        )
    _require_not_before_change(
        account, "blacklisted_on", blacklisted_on, account.blacklist_changed_on
    )
    return [
        CustomerBlacklisted(
            **_next(account, recorded_at),
            blacklisted_on=blacklisted_on,
            reason=reason,
        )
    ]


def file_bankruptcy(
    account: CustomerAccount, *, filed_on: date, reason: str, recorded_at: datetime
) -> list[Event]:
    """Record that the customer's bankruptcy was filed (once: a filing is not withdrawn)."""
    require_date("filed_on", filed_on)
    require_reason("reason", reason)
    if account.bankruptcy_filed_on is not None:
        raise CustomerStateError(
            f"customer {account.customer_code}'s bankruptcy was already filed on "
            f"{account.bankruptcy_filed_on}",
            customer_code=account.customer_code,
        )
    return [BankruptcyFiled(**_next(account, recorded_at), filed_on=filed_on, reason=reason)]


def suspect_fraud(
    account: CustomerAccount, *, suspected_on: date, reason: str, recorded_at: datetime
) -> list[Event]:
    """Record that fraud is suspected of the customer (once: the first suspicion stands)."""
    require_date("suspected_on", suspected_on)
    require_reason("reason", reason)
    if account.fraud_suspected_on is not None:
        raise CustomerStateError(
            f"customer {account.customer_code} is already suspected of fraud since "
            f"{account.fraud_suspected_on}",
            customer_code=account.customer_code,
        )
    return [FraudSuspected(**_next(account, recorded_at), suspected_on=suspected_on, reason=reason)]


def clear_blacklist(
    account: CustomerAccount, *, cleared_on: date, reason: str, recorded_at: datetime
) -> list[Event]:
    require_date("cleared_on", cleared_on)
    require_reason("reason", reason)
    if not account.is_blacklisted:
        raise CustomerStateError(
            f"customer {account.customer_code} is not blacklisted",
            customer_code=account.customer_code,
        )
    _require_not_before_change(account, "cleared_on", cleared_on, account.blacklist_changed_on)
    return [
        CustomerCleared(
            **_next(account, recorded_at),
            cleared_on=cleared_on,
            reason=reason,
        )
    ]


def adopt_allocation_rule(
    account: CustomerAccount,
    *,
    rule: AllocationRule,
    effective_on: date,
    approver: str,
    reason: str,
    recorded_at: datetime,
) -> list[Event]:
    """Adopt the rule automatic allocation follows for the customer's payments with a value
    date from ``effective_on``; the same adoption again is a no-op.

    Effective dates never go back before the latest adoption's: a payment allocated under the
    rule then in force must still read as allocated under it (its amounts are recorded either
    way, so a replay is exact; the dated history of rules must agree with them).
    """
    if not isinstance(rule, AllocationRule):
        raise InvalidChoiceError(
            f"allocation rule must be one of {', '.join(r.value for r in AllocationRule)}, "
            f"got {rule!r}",
            field="rule",
            value=rule,
        )
    require_date("effective_on", effective_on)
    require_person("approver", approver)
    require_reason("reason", reason)
    require_recorded_at(recorded_at)
    if account.allocation_rules:
        latest_on, latest_rule = account.allocation_rules[-1]
        if (latest_on, latest_rule) == (effective_on, rule):
            return []
        if effective_on < latest_on:
            raise InvalidDateError(
                f"customer {account.customer_code}: allocation rule effective on {effective_on} "
                f"is before the latest adoption's, {latest_on}",
                customer_code=account.customer_code,
                field="effective_on",
            )
    return [
        AllocationRuleAdopted(
            **_next(account, recorded_at),
            rule=rule,
            effective_on=effective_on,
            approver=approver,
            reason=reason,
        )
    ]


def change_terms(
    account: CustomerAccount,
    *,
    terms_kind: PaymentTermsKind,
    terms_days: int,
    changed_on: date,
    recorded_at: datetime,
) -> list[Event]:
    terms_kind, terms_days = _check_terms(terms_kind, terms_days)
    require_date("changed_on", changed_on)
    if (account.terms_kind, account.terms_days) == (terms_kind, terms_days):
        return []
    return [
        PaymentTermsChanged(
            **_next(account, recorded_at),
            terms_kind=terms_kind,
            terms_days=terms_days,
            changed_on=changed_on,
        )
    ]


def _check_terms(terms_kind: PaymentTermsKind, terms_days: int) -> tuple[PaymentTermsKind, int]:
    if not isinstance(terms_kind, PaymentTermsKind):
        raise InvalidChoiceError(
            f"unknown payment terms {terms_kind!r}", field="terms_kind", value=terms_kind
        )
    if type(terms_days) is not int or not 0 <= terms_days <= TERMS_DAYS_MAX:
        raise InvalidCommandError(
            f"terms_days must be a whole number from 0 to {TERMS_DAYS_MAX}, got {terms_days!r}",
            field="terms_days",
            terms_days=terms_days,
        )
    if terms_kind in (PaymentTermsKind.PREPAYMENT, PaymentTermsKind.CASH_ON_DELIVERY):
        terms_days = 0
    return terms_kind, terms_days


def set_payment_calendar(
    account: CustomerAccount,
    *,
    book_closing_day: int | None,
    payment_run_days: tuple[int, ...],
    set_on: date,
    recorded_at: datetime,
) -> list[Event]:
    """The customer's book-closing day and payment-run days (days of the month, 1-31)."""
    require_date("set_on", set_on)
    days = tuple(payment_run_days)
    for day in (*days, *(() if book_closing_day is None else (book_closing_day,))):
        if type(day) is not int or not 1 <= day <= 31:
            raise InvalidCommandError(
                f"calendar days are days of the month from 1 to 31, got {day!r}",
                customer_code=account.customer_code,
            )
    if list(days) != sorted(set(days)):
        raise InvalidCommandError(
            "payment-run days must be strictly increasing", customer_code=account.customer_code
        )
    return [
        PaymentCalendarSet(
            **_next(account, recorded_at),
            book_closing_day=book_closing_day,
            payment_run_days=days,
            set_on=set_on,
        )
    ]


def change_owner(
    account: CustomerAccount, *, collection_owner: str, changed_on: date, recorded_at: datetime
) -> list[Event]:
    require_person("collection_owner", collection_owner)
    require_date("changed_on", changed_on)
    if collection_owner == account.collection_owner:
        return []
    return [
        CollectionOwnerChanged(
            **_next(account, recorded_at),
            collection_owner=collection_owner,
            changed_on=changed_on,
        )
    ]


def set_collection_target(
    account: CustomerAccount,
    *,
    month_on: date,
    amount_minor: int,
    currency: str,
    set_by: str,
    set_on: date,
    note: str = "",
    recorded_at: datetime,
) -> list[Event]:
    """Set the target of the customer's collection plan for the month starting ``month_on``.

    The target is in the account's currency; 0 takes the target back (the month has no plan).
    The same target again for the month is a no-op; another one replaces it from then on.
    """
    require_date("month_on", month_on)
    if month_on.day != 1:
        raise InvalidDateError(
            f"a plan's month starts on its first day, got {month_on}", field="month_on"
        )
    if type(amount_minor) is not int or amount_minor < 0:
        raise InvalidAmountError(
            f"a collection target is zero or more minor units, got {amount_minor!r}",
            field="amount_minor",
        )
    if amount_minor:
        require_positive("amount_minor", amount_minor)
    require_account_currency(account, currency, "the collection target")
    require_person("set_by", set_by)
    require_date("set_on", set_on)
    if note:
        require_reason("note", note)
    if account.collection_targets.get(month_on, 0 if amount_minor == 0 else None) == amount_minor:
        return []
    return [
        CollectionTargetSet(
            **_next(account, recorded_at),
            month_on=month_on,
            amount_minor=amount_minor,
            currency=currency,
            set_by=set_by,
            set_on=set_on,
            note=note,
        )
    ]


def set_key_contact(
    account: CustomerAccount,
    *,
    role: ContactRole,
    name: str,
    phone: str = "",
    email: str = "",
    set_on: date,
    recorded_at: datetime,
) -> list[Event]:
    if not isinstance(role, ContactRole):
        raise InvalidChoiceError(f"unknown contact role {role!r}", field="role", value=role)
    require_text("name", name)
    for field, value in (("phone", phone), ("email", email)):
        if value:
            require_text(field, value)
    require_date("set_on", set_on)
    if account.contacts.get(role) == (name, phone, email):
        return []
    return [
        KeyContactSet(
            **_next(account, recorded_at),
            role=role,
            name=name,
            phone=phone,
            email=email,
            set_on=set_on,
        )
    ]


def hold_supply(
    account: CustomerAccount, *, held_on: date, reason: str, by_policy: bool, recorded_at: datetime
) -> list[Event]:
    """Stop supply: by policy recommendation (escalation level) or by hand."""
    require_date("held_on", held_on)
    require_reason("reason", reason)
    if account.is_supply_held:
        raise CustomerStateError(
            f"supply to {account.customer_code} is already on hold",
            customer_code=account.customer_code,
        )
    _require_not_before_change(account, "held_on", held_on, account.supply_changed_on)
    return [
        SupplyHeld(
            **_next(account, recorded_at),
            held_on=held_on,
            reason=reason,
            by_policy=bool(by_policy),
        )
    ]


def release_supply(
    account: CustomerAccount,
    *,
    released_on: date,
    reason: str,
    by_policy: bool,
    recorded_at: datetime,
) -> list[Event]:
    require_date("released_on", released_on)
    require_reason("reason", reason)
    if not account.is_supply_held:
        raise CustomerStateError(
            f"supply to {account.customer_code} is not on hold",
            customer_code=account.customer_code,
        )
    _require_not_before_change(account, "released_on", released_on, account.supply_changed_on)
    return [
        SupplyReleased(
            **_next(account, recorded_at),
            released_on=released_on,
            reason=reason,
            by_policy=bool(by_policy),
        )
    ]


def send_balance_confirmation(
    account: CustomerAccount,
    *,
    confirmation_reference: str,
    balance_as_of: date,
    ledger_balance_minor: int,
    sent_on: date,
    statement_from_on: date,
    statement_lines: int,
    recorded_at: datetime,
) -> list[Event]:
    """Record a balance confirmation issued from the statement of account for
    ``statement_from_on``..``balance_as_of`` (worked out by the caller): its closing balance
    and its count of lines are what the customer is asked to confirm, so a difference can be
    traced to the lines later."""
    require_key("confirmation_reference", confirmation_reference)
    require_date("balance_as_of", balance_as_of)
    require_date("sent_on", sent_on)
    require_date("statement_from_on", statement_from_on)
    if type(ledger_balance_minor) is not int or ledger_balance_minor < 0:
        raise InvalidAmountError("ledger balance must be a non-negative int of minor units")
    if type(statement_lines) is not int or statement_lines < 0:
        raise InvalidCommandError(
            f"statement lines must be a non-negative int, got {statement_lines!r}",
            field="statement_lines",
        )
    if confirmation_reference in account.confirmations_sent:
        # A confirmation recorded before they were issued from statements has no period: the
        # same balance again is the same confirmation.
        recorded_from_on = account.confirmations_from_on.get(confirmation_reference)
        same = account.confirmations_sent[confirmation_reference] == ledger_balance_minor and (
            recorded_from_on in (None, statement_from_on)
        )
        if same:
            return []
        raise DuplicateKeyConflictError(
            f"balance confirmation {confirmation_reference} was already sent with another balance",
            confirmation_reference=confirmation_reference,
        )
    return [
        BalanceConfirmationSent(
            **_next(account, recorded_at),
            confirmation_reference=confirmation_reference,
            balance_as_of=balance_as_of,
            ledger_balance_minor=ledger_balance_minor,
            currency=account.currency,
            sent_on=sent_on,
            statement_from_on=statement_from_on,
            statement_lines=statement_lines,
        )
    ]


def acknowledge_balance_confirmation(
    account: CustomerAccount,
    *,
    confirmation_reference: str,
    confirmed_balance_minor: int,
    acknowledged_on: date,
    recorded_at: datetime,
) -> list[Event]:
    """The customer stamped the confirmation; a difference from the ledger is kept, signed."""
    require_key("confirmation_reference", confirmation_reference)
    require_date("acknowledged_on", acknowledged_on)
    if type(confirmed_balance_minor) is not int or confirmed_balance_minor < 0:
        raise InvalidAmountError("confirmed balance must be a non-negative int of minor units")
    if confirmation_reference not in account.confirmations_sent:
        raise ConfirmationNotFoundError(
            f"no balance confirmation {confirmation_reference!r} was sent to "
            f"{account.customer_code}",
            confirmation_reference=confirmation_reference,
            customer_code=account.customer_code,
        )
    if confirmation_reference in account.confirmations_acknowledged:
        raise CustomerStateError(
            f"balance confirmation {confirmation_reference} is already acknowledged",
            confirmation_reference=confirmation_reference,
        )
    sent_on = account.confirmations_sent_on[confirmation_reference]
    if acknowledged_on < sent_on:
        raise InvalidDateError(
            f"balance confirmation {confirmation_reference} acknowledged on {acknowledged_on}, "
            f"before it was sent on {sent_on}",
            field="acknowledged_on",
            confirmation_reference=confirmation_reference,
        )
    ledger_balance_minor = account.confirmations_sent[confirmation_reference]
    return [
        BalanceConfirmationAcknowledged(
            **_next(account, recorded_at),
            confirmation_reference=confirmation_reference,
            confirmed_balance_minor=confirmed_balance_minor,
            ledger_balance_minor=ledger_balance_minor,
            difference_minor=confirmed_balance_minor - ledger_balance_minor,
            currency=account.currency,
            acknowledged_on=acknowledged_on,
        )
    ]


def resolve_reconciliation(
    account: CustomerAccount,
    *,
    confirmation_reference: str,
    resolution: ReconciliationResolution,
    reference: str,
    reference_on: date | None,
    resolved_on: date,
    note: str,
    recorded_at: datetime,
) -> list[Event]:
    """Close the reconciliation item of a confirmation with the fact in the log that explains
    the difference: a credit note, a payment found, or a dispute opened for it.

    ``reference_on`` is the business date of that fact as the caller found it among the
    customer's (a credit note's application, a payment's value date, a dispute's opening),
    None when the log holds no such fact of this customer. The fact may predate the item (a
    payment the ledger had not applied is the usual cause) but not its resolution.
    """
    if not isinstance(resolution, ReconciliationResolution):
        raise InvalidChoiceError(
            f"resolution must be one of {', '.join(r.value for r in ReconciliationResolution)}, "
            f"got {resolution!r}",
            field="resolution",
            value=resolution,
        )
    if resolution is ReconciliationResolution.ACCEPTED:
        raise InvalidChoiceError(
            "an accepted difference names its approver: use accept_reconciliation",
            field="resolution",
            value=resolution,
        )
    require_key("reference", reference)
    opened_on = _open_reconciliation(account, confirmation_reference, resolved_on)
    require_reason("note", note)
    if reference_on is None:
        raise ReconciliationReferenceError(
            f"{resolution.value.replace('_', ' ')} {reference!r} is not "
            f"{account.customer_code}'s in the ledger",
            customer_code=account.customer_code,
            confirmation_reference=confirmation_reference,
            resolution=resolution.value,
            reference=reference,
        )
    if reference_on > resolved_on:
        raise InvalidDateError(
            f"reconciliation {confirmation_reference} resolved on {resolved_on} by "
            f"{resolution.value.replace('_', ' ')} {reference} dated {reference_on}, later",
            field="resolved_on",
            confirmation_reference=confirmation_reference,
        )
    assert opened_on <= resolved_on
    return [
        ReconciliationResolved(
            **_next(account, recorded_at),
            confirmation_reference=confirmation_reference,
            resolution=resolution,
            reference=reference,
            approver="",
            resolved_on=resolved_on,
            note=note,
        )
    ]


def accept_reconciliation(
    account: CustomerAccount,
    *,
    confirmation_reference: str,
    approver: str,
    accepted_on: date,
    reason: str,
    recorded_at: datetime,
) -> list[Event]:
    """Close the reconciliation item of a confirmation by accepting the difference as it
    stands, on a named approver's authority (nothing in the log explains it)."""
    require_person("approver", approver)
    _open_reconciliation(account, confirmation_reference, accepted_on)
    require_reason("reason", reason)
    return [
        ReconciliationResolved(
            **_next(account, recorded_at),
            confirmation_reference=confirmation_reference,
            resolution=ReconciliationResolution.ACCEPTED,
            reference="",
            approver=approver,
            resolved_on=accepted_on,
            note=reason,
        )
    ]


def _open_reconciliation(
    account: CustomerAccount, confirmation_reference: str, resolved_on: date
) -> date:
    """The day the confirmation's reconciliation item opened; refused unless it is open and
    ``resolved_on`` is not before that day."""
    require_key("confirmation_reference", confirmation_reference)
    require_date("resolved_on", resolved_on)
    if confirmation_reference in account.reconciliations_closed:
        raise CustomerStateError(
            f"the reconciliation of balance confirmation {confirmation_reference} is already "
            "resolved",
            customer_code=account.customer_code,
            confirmation_reference=confirmation_reference,
        )
    opened_on = account.reconciliations_open.get(confirmation_reference)
    if opened_on is None:
        if confirmation_reference not in account.confirmations_sent:
            why = "no such confirmation was sent"
        elif confirmation_reference not in account.confirmations_acknowledged:
            why = "it is not acknowledged"
        else:
            why = "it was acknowledged without a difference"
        raise ReconciliationNotFoundError(
            f"no reconciliation item for balance confirmation {confirmation_reference!r} of "
            f"{account.customer_code}: {why}",
            customer_code=account.customer_code,
            confirmation_reference=confirmation_reference,
        )
    if resolved_on < opened_on:
        raise InvalidDateError(
            f"reconciliation {confirmation_reference} resolved on {resolved_on}, before it "
            f"opened on {opened_on}",
            field="resolved_on",
            confirmation_reference=confirmation_reference,
        )
    return opened_on
