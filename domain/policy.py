"""Policy as data: how receivables are aged.

Invariant: bucket edges are strictly increasing positive day counts; the buckets they make
cover every day count exactly once (current, then one bucket per edge, then the open end).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Final

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


@attrs.frozen(kw_only=True)
class PreDueReminderRule:
    """Chasing before due: an open invoice this rule covers needs a reminder from
    ``days_before_due`` days before its due date (and not before it was issued) to the due date
    itself. It covers the invoices of customers rated ``rating_at_or_worse`` or worse (a rating
    ordinal, 1=A .. 4=D; 0 covers every customer, rated or not) whose open amount is at least
    ``amount_at_least_major`` major units of the account's currency (0: any amount)."""

    days_before_due: int
    rating_at_or_worse: int = 0
    amount_at_least_major: int = 0

    def __attrs_post_init__(self) -> None:
        if self.days_before_due < 0 or self.amount_at_least_major < 0:
            raise ConfigurationError(
                "a pre-due reminder's days and amount must not be negative",
                field="pre_due_reminders",
            )
        if not 0 <= self.rating_at_or_worse <= 4:
            raise ConfigurationError(
                "a pre-due reminder's rating is an ordinal from 1 (A) to 4 (D), or 0 for any",
                field="pre_due_reminders",
            )


def _default_reminder_channels() -> tuple[str, ...]:
    return ("phone", "email", "fax")


def _default_negotiation_channels() -> tuple[str, ...]:
    return ("visit", "demand_letter")


@attrs.frozen(kw_only=True)
class NegotiationRule:
    """Negotiation before legal: at ``from_level`` and above, the level's required actions wait
    for a negotiation (an action on one of ``channels``, which always records its outcome) or
    an approver's override, either dated within ``within_days`` days up to the day asked about;
    until then the next action is ``NEGOTIATE_FIRST``."""

    from_level: int
    channels: tuple[str, ...] = attrs.field(factory=_default_negotiation_channels, converter=tuple)
    within_days: int = 180

    def __attrs_post_init__(self) -> None:
        if self.from_level < 1 or self.within_days < 0:
            raise ConfigurationError(
                "negotiation before legal needs a level from 1 and a window of days from 0",
                field="negotiation",
            )
        if not self.channels:
            raise ConfigurationError(
                "negotiation before legal needs at least one channel", field="negotiation"
            )


@attrs.frozen(kw_only=True)
class DelinquencyAdjustment:
    """How a diagnosed delinquency type moves the ladder while it is the customer's latest
    diagnosis, at level 1 and above (a customer at level 0 stays there):

    - ``level_offset`` levels are added to the level the triggers give (after any promise's
      hold), never below level 1 nor above the top: deliberate delay escalates faster
      (+1: a customer the triggers put at level 1 stands at level 2);
    - then the level is at most ``level_max`` (None: no cap): escalation paused there;
    - ``routes_to``: the next action instead of the level's required actions (a contract
      dispute goes to dispute handling, not to the next letter).
    """

    level_offset: int = 0
    level_max: int | None = None
    routes_to: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.level_max is not None and self.level_max < 1:
            raise ConfigurationError(
                "a delinquency type's level_max is a level from 1", field="delinquency_adjustments"
            )
        if self.routes_to is not None and not self.routes_to.strip():
            raise ConfigurationError(
                "a delinquency type routes to a named action", field="delinquency_adjustments"
            )


def _to_actions(actions: Iterable[str]) -> tuple[str, ...]:
    # A typed converter: ``converter=tuple`` leaves the argument's type unbound for mypy.
    return tuple(actions)


def _default_claim_actions() -> tuple[str, ...]:
    return (FILE_CLAIM,)


@attrs.frozen(kw_only=True)
class DistressEffect:
    """What a customer event of distress (bankruptcy filed, fraud suspected) does from its
    date on: the customer stands at least at ``level_at_least`` (None: the top level), supply
    is held if ``supply_hold``, and ``required_actions`` (when any) replace every level's own
    (bankruptcy: the claim is filed with the administrator, no more reminders)."""

    level_at_least: int | None = None
    required_actions: tuple[str, ...] = attrs.field(default=(), converter=_to_actions)
    supply_hold: bool = True

    def __attrs_post_init__(self) -> None:
        if self.level_at_least is not None and self.level_at_least < 1:
            raise ConfigurationError(
                "a distress effect's level is a level from 1", field="level_at_least"
            )


def _bankruptcy_effect() -> DistressEffect:
    return DistressEffect(required_actions=_default_claim_actions())


NEGOTIATE_FIRST: Final = "negotiate_first"
"""The next action of a customer whose level waits for a negotiation (``NegotiationRule``)."""
RATING_VALUES: Final = ("A", "B", "C", "D")
"""The risk ratings' values (``events.RiskRating``, which imports this module: a test ties
the two)."""

FILE_CLAIM: Final = "file_claim"
"""The required action once a customer's bankruptcy is filed (by default): the claim filed
with the administrator, in place of reminders and lawsuits."""
DISPUTE_HANDLING: Final = "dispute_handling"
"""The action a contract dispute is usually routed to (``DelinquencyAdjustment.routes_to``)."""

DIAGNOSE: Final = "diagnose"
"""The next action of a customer at ``diagnose_from_level`` or above with no diagnosis
recorded: the cause of late payment is found before acting."""


ACTION_WORDS: Final = {
    "phone": "phone call",
    "email": "email",
    "fax": "fax",
    "overdue_notice": "overdue notice",
    "finance_letter": "finance dunning letter",
    "visit": "on-site visit",
    "demand_letter": "demand letter",
    "lawyer_letter": "lawyer's letter",
    "legal_filing": "legal filing",
    NEGOTIATE_FIRST: "negotiate first",
    DIAGNOSE: "find the cause first",
    FILE_CLAIM: "file the claim with the administrator",
    DISPUTE_HANDLING: "dispute handling",
}
"""The collection tools and next actions in the words of DOMAIN.md, for people reading them."""


def action_in_words(action: str) -> str:
    """A required action for people: ``lawyer_letter`` -> "lawyer's letter"; an action a
    policy names that is not in ``ACTION_WORDS`` has its underscores turned into spaces."""
    return ACTION_WORDS.get(action, action.replace("_", " "))


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
    promise_tolerance_days_by_rating: dict[str, int] = attrs.field(factory=dict)
    """Promise tolerance by the customer's risk rating (``RiskRating`` value, "A".."D") on
    the day the promise was made: good payers looser, poor payers tighter [信誉好的客户松一点,
    信誉差的紧一点]; a rating not listed, or no rating, gets ``promise_tolerance_days``. None
    by default (and in versions stored before it existed)."""
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
    pre_due_reminders: tuple[PreDueReminderRule, ...] = attrs.field(default=(), converter=tuple)
    """Chasing before due; none by default (and in versions stored before it existed)."""
    pre_due_reminder_channels: tuple[str, ...] = attrs.field(
        factory=_default_reminder_channels, converter=tuple
    )
    """The action channels a recorded reminder before the due date is taken on."""
    negotiation: NegotiationRule | None = None
    """Negotiation before legal; off by default (and in versions stored before it existed)."""
    delinquency_actions: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    """Strategy per delinquency type: per diagnosed type (``DelinquencyType`` value), its
    countermeasures, required at every level from 1 up before the level's own, while that
    diagnosis is the latest; none by default."""
    diagnose_from_level: int = 0
    """From this level up, a customer with no delinquency diagnosis recorded has ``DIAGNOSE``
    as its next action; 0 (the default, and in versions stored before it existed): never."""
    delinquency_adjustments: dict[str, DelinquencyAdjustment] = attrs.field(factory=dict)
    """Level adjustments per diagnosed type (``DelinquencyType`` value), while that diagnosis
    is the latest (``DelinquencyAdjustment``); none by default (and in versions stored before
    it existed)."""
    bankruptcy_filed: DistressEffect = attrs.field(factory=_bankruptcy_effect)
    """From a customer's ``BankruptcyFiled``: by default the top level, supply held, and the
    claim filed (``FILE_CLAIM``) as the only required action."""
    fraud_suspected: DistressEffect = attrs.field(factory=DistressEffect)
    """From a customer's ``FraudSuspected``: by default the top level at once, supply held,
    the top level's own actions."""

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
        for rating, days in self.promise_tolerance_days_by_rating.items():
            if rating not in RATING_VALUES:
                raise ConfigurationError(
                    f"promise tolerance for rating {rating!r}: a rating is one of "
                    f"{', '.join(RATING_VALUES)}",
                    field="promise_tolerance_days_by_rating",
                )
            if isinstance(days, bool) or not isinstance(days, int) or days < 0:
                raise ConfigurationError(
                    f"promise tolerance for rating {rating}: {days!r} is not a number of days",
                    field="promise_tolerance_days_by_rating",
                )
        if self.diagnose_from_level < 0:
            raise ConfigurationError(
                "diagnose_from_level is a level, or 0 for never", field="diagnose_from_level"
            )
        top = len(self.levels) - 1
        for name, adjustment in self.delinquency_adjustments.items():
            if abs(adjustment.level_offset) > top or (
                adjustment.level_max is not None and adjustment.level_max > top
            ):
                raise ConfigurationError(
                    f"delinquency_adjustments[{name}]: the offset and the level_max must stay "
                    f"within the ladder's {top} levels",
                    field="delinquency_adjustments",
                )
        for effect in (self.bankruptcy_filed, self.fraud_suspected):
            if effect.level_at_least is not None and effect.level_at_least > top:
                raise ConfigurationError(
                    f"a distress effect's level {effect.level_at_least} is above the top "
                    f"level {top}",
                    field="level_at_least",
                )
        if self.pre_due_reminders and not self.pre_due_reminder_channels:
            raise ConfigurationError(
                "pre-due reminders need at least one reminder channel",
                field="pre_due_reminder_channels",
            )

    def promise_tolerance_days_for(self, rating: str | None) -> int:
        """The tolerance days of a promise made by a customer rated ``rating`` (a
        ``RiskRating`` value; None: not rated)."""
        if rating is None:
            return self.promise_tolerance_days
        return self.promise_tolerance_days_by_rating.get(rating, self.promise_tolerance_days)

    def adjusted_level(
        self,
        level: int,
        delinquency_type: str | None,
        *,
        bankrupt: bool = False,
        fraud: bool = False,
    ) -> int:
        """The level of a customer the triggers (and any promise's hold) put at ``level``,
        whose latest diagnosis is ``delinquency_type`` (None: not diagnosed), with a
        bankruptcy filed or fraud suspected by then: the type's ``DelinquencyAdjustment``
        from level 1, then at least each distress effect's level. The fast path reads this
        as a table (``adjustment_table``)."""
        top = len(self.levels) - 1
        adjusted = level
        adjustment = (
            None if delinquency_type is None else self.delinquency_adjustments.get(delinquency_type)
        )
        if adjustment is not None and level >= 1:
            adjusted = min(max(level + adjustment.level_offset, 1), top)
            if adjustment.level_max is not None:
                adjusted = min(adjusted, adjustment.level_max)
        for applies, effect in ((bankrupt, self.bankruptcy_filed), (fraud, self.fraud_suspected)):
            if applies:
                floor = top if effect.level_at_least is None else effect.level_at_least
                adjusted = max(adjusted, floor)
        return adjusted

    def adjustment_table(self, type_values: tuple[str, ...], width: int) -> list[int]:
        """``adjusted_level`` for every standing, flat: index ``((type + 1) * 2 + bankrupt)
        * 2 + fraud) * width + level``, ``type`` the place in ``type_values`` (-1: none),
        levels from 0 to ``width - 1`` (those past the ladder's top stay as they are)."""
        table = []
        for delinquency_type in (None, *type_values):
            for bankrupt in (False, True):
                for fraud in (False, True):
                    for level in range(width):
                        table.append(
                            self.adjusted_level(
                                level, delinquency_type, bankrupt=bankrupt, fraud=fraud
                            )
                            if level < len(self.levels)
                            else level
                        )
        return table

    def supply_hold_at(self, level: int, *, bankrupt: bool = False, fraud: bool = False) -> bool:
        """Whether supply is held at ``level``: the rung says so, or a distress effect."""
        return (
            self.level(level).supply_hold
            or (bankrupt and self.bankruptcy_filed.supply_hold)
            or (fraud and self.fraud_suspected.supply_hold)
        )

    def replaces_actions(
        self, delinquency_type: str | None, *, bankrupt: bool = False, fraud: bool = False
    ) -> bool:
        """Whether this standing's actions replace the levels' (``required_actions``): a
        distress effect with actions of its own, or a type routed elsewhere."""
        if (bankrupt and self.bankruptcy_filed.required_actions) or (
            fraud and self.fraud_suspected.required_actions
        ):
            return True
        adjustment = (
            None if delinquency_type is None else self.delinquency_adjustments.get(delinquency_type)
        )
        return adjustment is not None and adjustment.routes_to is not None

    def required_actions(
        self,
        level: int,
        delinquency_type: str | None,
        *,
        bankrupt: bool = False,
        fraud: bool = False,
    ) -> tuple[str, ...]:
        """The actions required at ``level`` for a customer whose latest diagnosis is
        ``delinquency_type`` (None: not diagnosed): from level 1, a filed bankruptcy's actions,
        else suspected fraud's, else the action the type routes to, replace every other;
        otherwise the type's countermeasures first, then the level's own not among them (none
        added at level 0)."""
        own = self.level(level).required_actions
        if level == 0:
            return own
        for applies, effect in ((bankrupt, self.bankruptcy_filed), (fraud, self.fraud_suspected)):
            if applies and effect.required_actions:
                return tuple(dict.fromkeys(effect.required_actions))
        if delinquency_type is None:
            return own
        adjustment = self.delinquency_adjustments.get(delinquency_type)
        if adjustment is not None and adjustment.routes_to is not None:
            return (adjustment.routes_to,)
        first = tuple(dict.fromkeys(self.delinquency_actions.get(delinquency_type, ())))
        return first + tuple(action for action in own if action not in first)

    def pre_due_days(self, rating_ordinal: int, open_minor: int, currency: str) -> int | None:
        """How many days before its due date an invoice with ``open_minor`` open, of a
        customer whose rating has ``rating_ordinal`` (0: not rated), needs a reminder: the
        most of the rules that cover it; None when none does."""
        found = None
        per_major = minor_per_major(currency)
        for rule in self.pre_due_reminders:
            if rule.rating_at_or_worse and rating_ordinal < rule.rating_at_or_worse:
                continue
            if open_minor < rule.amount_at_least_major * per_major:
                continue
            if found is None or rule.days_before_due > found:
                found = rule.days_before_due
        return found

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
