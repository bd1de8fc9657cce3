"""Policy as data: how receivables are aged.

Invariant: bucket edges are strictly increasing positive day counts; the buckets they make
cover every day count exactly once (current, then one bucket per edge, then the open end).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from .errors import ConfigurationError
from .money import minor_per_major
from .trigger_rules import TriggerRule as TriggerRule  # re-exported: triggers name it

LOSS_RATE_DENOMINATOR_MAX = 10**12
"""Largest denominator a loss rate may have: a published rate such as 2,000/23,000 is far below
it, and the bound keeps rates read from outside input finite and small."""


@attrs.frozen(kw_only=True)
class LossRate:
    """An expected-credit-loss rate as an exact fraction ``numerator / denominator`` from 0 to 1.

    A provision matrix published as "2,000/23,000" keeps that fraction exactly (sub-basis-point
    precision); a rate in basis points is ``LossRate.of_bps(bps)`` = bps/10,000. The loss on an
    amount is ``loss_minor``: amount x rate rounded half-even to the minor unit (a tie goes to the
    even neighbour, the rounding the provision matrix has always used).
    """

    numerator: int
    denominator: int

    def __attrs_post_init__(self) -> None:
        if type(self.numerator) is not int or type(self.denominator) is not int:
            raise ConfigurationError(
                "a loss rate is a fraction of two whole numbers", field="provision_loss_rates"
            )
        if not 0 < self.denominator <= LOSS_RATE_DENOMINATOR_MAX:
            raise ConfigurationError(
                f"a loss rate's denominator is from 1 to {LOSS_RATE_DENOMINATOR_MAX:,}, "
                f"not {self.denominator}",
                field="provision_loss_rates",
            )
        if not 0 <= self.numerator <= self.denominator:
            raise ConfigurationError(
                f"a loss rate is from 0 to 1, not {self.numerator}/{self.denominator}",
                field="provision_loss_rates",
            )

    @classmethod
    def of_bps(cls, bps: int) -> LossRate:
        return cls(numerator=bps, denominator=BPS_PER_UNIT)

    @property
    def bps(self) -> int | None:
        """The rate in whole basis points, or None when it is not a whole number of them."""
        bps, remainder = divmod(self.numerator * BPS_PER_UNIT, self.denominator)
        return bps if remainder == 0 else None

    def loss_minor(self, amount_minor: int) -> int:
        """``amount_minor`` x the rate, rounded half-even to the minor unit (exact integers)."""
        quotient, remainder = divmod(amount_minor * self.numerator, self.denominator)
        twice = 2 * remainder
        if twice > self.denominator or (twice == self.denominator and quotient % 2 == 1):
            quotient += 1
        return quotient

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


BPS_PER_UNIT = 10_000
"""Basis points in a rate of 1."""


class AgeingBasis(enum.Enum):
    """Which date an invoice's age counts from; stored by value."""

    DUE_DATE = "due_date"
    ISSUE_DATE = "issue_date"


def _to_edges(edges: Iterable[int]) -> tuple[int, ...]:
    # A typed converter: ``converter=tuple`` leaves the argument's type unbound for mypy.
    return tuple(edges)


def _check_edges(_instance: object, _attribute: object, edges: tuple[int, ...]) -> None:
    if not edges:
        raise ConfigurationError("ageing needs at least one bucket edge", edges=edges)
    if any(type(edge) is not int or edge <= 0 for edge in edges):
        raise ConfigurationError(f"bucket edges must be positive whole days: {edges}", edges=edges)
    if list(edges) != sorted(set(edges)):
        raise ConfigurationError(f"bucket edges must be strictly increasing: {edges}", edges=edges)


@attrs.frozen(kw_only=True)
class AgeingPolicy:
    """Buckets: current (0 days or fewer past the basis), 1..e1, e1+1..e2, ..., over the last edge.

    With the default edges (30, 60, 90, 120): current, 1-30, 31-60, 61-90, 91-120, over 120.
    An invoice due today is 0 days past due, so current: it is not yet overdue.
    """

    edges_days: tuple[int, ...] = attrs.field(
        default=(30, 60, 90, 120), converter=_to_edges, validator=_check_edges
    )
    basis: AgeingBasis = AgeingBasis.DUE_DATE

    @property
    def bucket_labels(self) -> tuple[str, ...]:
        labels = ["current"]
        low = 1
        for edge in self.edges_days:
            labels.append(f"{low}-{edge}")
            low = edge + 1
        labels.append(f"over {self.edges_days[-1]}")
        return tuple(labels)

    def bucket_index(self, days_past_due: int) -> int:
        """Index into ``bucket_labels`` for a day count (zero or less is current)."""
        if days_past_due <= 0:
            return 0
        for index, edge in enumerate(self.edges_days, start=1):
            if days_past_due <= edge:
                return index
        return len(self.edges_days) + 1


# Escalation policy ----------------------------------------------------------------------------


class Grade(enum.Enum):
    """The collection type from the age x amount grid, mild to severe (DOMAIN.md)."""

    FINANCE_FOLLOW_UP = "finance_follow_up"  # short & small
    FOCUSED_PURSUIT = "focused_pursuit"  # short & large
    SETTLE = "settle"  # long & small
    LEGAL_COLLECTION = "legal_collection"  # long & large


class WorklistKey(enum.Enum):
    LEVEL = "level"
    OVERDUE_AMOUNT = "overdue_amount"
    DAYS_PAST_DUE = "days_past_due"
    BROKEN_PROMISES = "broken_promises"


@attrs.frozen(kw_only=True)
class Trigger:
    """Fires when the rule's figure reaches ``threshold``, in the rule's unit: days, major
    units of the account's currency, promises, a rating ordinal, or none
    (``domain.trigger_rules.TRIGGER_RULES`` says which, and how it compares)."""

    rule: TriggerRule
    threshold: int = 0


@attrs.frozen(kw_only=True)
class EscalationLevel:
    """One rung of the ladder: entered when any trigger fires."""

    level: int
    name: str
    triggers: tuple[Trigger, ...] = ()
    required_actions: tuple[str, ...] = ()
    action_due_days: int = 0
    supply_hold: bool = False


def _default_levels() -> tuple[EscalationLevel, ...]:
    return (
        EscalationLevel(level=0, name="current"),
        EscalationLevel(
            level=1,
            name="reminder",
            triggers=(Trigger(rule=TriggerRule.DAYS_PAST_DUE, threshold=1),),
            required_actions=("overdue_notice", "phone"),
            action_due_days=3,
        ),
        EscalationLevel(
            level=2,
            name="pursuit",
            triggers=(
                Trigger(rule=TriggerRule.DAYS_PAST_DUE, threshold=31),
                Trigger(rule=TriggerRule.OVERDUE_AMOUNT, threshold=100_000),
                Trigger(rule=TriggerRule.BROKEN_PROMISES, threshold=1),
            ),
            required_actions=("finance_letter", "visit"),
            action_due_days=7,
        ),
        EscalationLevel(
            level=3,
            name="demand",
            triggers=(
                Trigger(rule=TriggerRule.DAYS_PAST_DUE, threshold=61),
                Trigger(rule=TriggerRule.BROKEN_PROMISES, threshold=2),
                Trigger(rule=TriggerRule.RISK_RATING, threshold=4),
            ),
            required_actions=("demand_letter", "visit"),
            action_due_days=7,
            supply_hold=True,
        ),
        EscalationLevel(
            level=4,
            name="legal",
            triggers=(
                Trigger(rule=TriggerRule.DAYS_PAST_DUE, threshold=91),
                Trigger(rule=TriggerRule.BROKEN_PROMISES, threshold=3),
                Trigger(rule=TriggerRule.BLACKLISTED),
            ),
            required_actions=("lawyer_letter", "legal_filing"),
            action_due_days=14,
            supply_hold=True,
        ),
    )


def _check_levels(
    _instance: object, _attribute: object, levels: tuple[EscalationLevel, ...]
) -> None:
    if [level.level for level in levels] != list(range(len(levels))):
        raise ConfigurationError("escalation levels must be numbered 0, 1, 2, ... in order")
    if levels and levels[0].triggers:
        raise ConfigurationError("level 0 is where a customer with no trigger stands")


@attrs.frozen(kw_only=True)
class EscalationPolicy:
    """Everything the collection rules depend on, as data, versioned by adoption events.

    Amount thresholds are in major units of the customer's currency (``large_above_major`` =
    100,000 means 100,000.00 USD, 100,000 JPY); ``large_above_major_by_currency`` overrides it
    per currency. A trigger's threshold is in its rule's unit (``TRIGGER_RULES``).
    """

    version: int = 1
    ageing: AgeingPolicy = attrs.field(factory=AgeingPolicy)
    long_after_days: int = 30
    large_above_major: int = 100_000
    large_above_major_by_currency: dict[str, int] = attrs.field(factory=dict)
    disputed_counts: bool = False
    promise_tolerance_days: int = 3
    promise_suspends: bool = True
    partly_kept_counts_as_broken: bool = True
    levels: tuple[EscalationLevel, ...] = attrs.field(
        factory=_default_levels, converter=tuple, validator=_check_levels
    )
    credit_block_level: int = 3
    credit_line_capital_ratio_bps: int = 5000
    provision_rates_bps: tuple[int, ...] = attrs.field(
        default=(50, 200, 1000, 2500, 5000, 10000), converter=tuple
    )
    goods_in_lieu_haircut_bps: int = 3000
    """What a settlement in goods [以物抵债] is valued below its appraisal, in basis points
    (default 30%: goods appraised at 100,000.00 settle at most 70,000.00)."""
    provision_loss_rates: tuple[LossRate, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(tuple)
    )
    """The provision matrix as exact fractions, one per ageing bucket; when given it is the
    matrix and ``provision_rates_bps`` is not used (policies adopted before it keep their basis
    points, read through ``provision_rates``)."""
    worklist_priority: tuple[WorklistKey, ...] = attrs.field(
        default=(
            WorklistKey.LEVEL,
            WorklistKey.OVERDUE_AMOUNT,
            WorklistKey.DAYS_PAST_DUE,
            WorklistKey.BROKEN_PROMISES,
        ),
        converter=tuple,
    )
    cash_handover_days: int = 3
    """Days a person who collected cash or a cheque may hold it before handing it to finance;
    held longer, it is flagged to that person's manager (``managers``)."""
    cash_settles_on_handover: bool = True
    """Cash or a cheque collected in person settles invoices only from its handover to finance
    (False: from its collection, the value date)."""
    managers: dict[str, str] = attrs.field(factory=dict)
    """Person -> their manager, who is shown the cash that person holds too long."""

    def __attrs_post_init__(self) -> None:
        if len(self.provision_rates_bps) != len(self.ageing.bucket_labels):
            raise ConfigurationError(
                f"{len(self.provision_rates_bps)} provision rates for "
                f"{len(self.ageing.bucket_labels)} ageing buckets",
            )
        if any(not 0 <= rate <= 10000 for rate in self.provision_rates_bps):
            raise ConfigurationError("provision rates are basis points from 0 to 10000")
        if not 0 <= self.goods_in_lieu_haircut_bps <= BPS_PER_UNIT:
            raise ConfigurationError(
                "the goods-in-lieu haircut is basis points from 0 to 10000",
                field="goods_in_lieu_haircut_bps",
            )
        if self.provision_loss_rates is not None and len(self.provision_loss_rates) != len(
            self.ageing.bucket_labels
        ):
            raise ConfigurationError(
                f"{len(self.provision_loss_rates)} provision loss rates for "
                f"{len(self.ageing.bucket_labels)} ageing buckets",
            )
        if (
            self.long_after_days < 0
            or self.large_above_major < 0
            or self.promise_tolerance_days < 0
            or self.cash_handover_days < 0
        ):
            raise ConfigurationError("policy thresholds must not be negative")

    @property
    def provision_rates(self) -> tuple[LossRate, ...]:
        """The provision matrix in force: the exact loss rates, else the basis points."""
        if self.provision_loss_rates is not None:
            return self.provision_loss_rates
        return tuple(LossRate.of_bps(bps) for bps in self.provision_rates_bps)

    def large_above_minor(self, currency: str) -> int:
        """The 'large' threshold in minor units of ``currency``."""
        major = self.large_above_major_by_currency.get(currency, self.large_above_major)
        return major * minor_per_major(currency)

    def grade(self, days_past_due: int, overdue_minor: int, currency: str) -> Grade:
        """Grade by age x amount: long after ``long_after_days``, large above
        ``large_above_minor(currency)``."""
        long = days_past_due > self.long_after_days
        large = overdue_minor > self.large_above_minor(currency)
        if long:
            return Grade.LEGAL_COLLECTION if large else Grade.SETTLE
        return Grade.FOCUSED_PURSUIT if large else Grade.FINANCE_FOLLOW_UP

    def level(self, number: int) -> EscalationLevel:
        return self.levels[number]


DEFAULT_ESCALATION_POLICY = EscalationPolicy()
