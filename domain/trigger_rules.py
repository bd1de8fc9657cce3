"""The escalation triggers' rules, as one table: what each measures, in which unit, whether the
passage of time alone can make it fire, and how its figure compares with a threshold.

Both evaluations of the ladder read this table: the fold
(``projections/escalation/evaluate.py``) and the fast path's kernels
(``projections/fast/codes.py`` turns it into the kernels' codes and masks). Each also says, for
each rule, which figure it measures: that part is per rule by nature (a count of promises is not
a number of days), and written as an exhaustive ``match`` in the fold and a branch per rule code
in the kernel.

Invariant: every ``TriggerRule`` has exactly one row (checked when this module is imported),
so a new rule without a row fails every import; one without a fold branch fails mypy
(``assert_never``); one without a kernel branch fails ``tests/unit/test_trigger_rules.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, assert_never

import attrs


class TriggerRule(enum.Enum):
    """What a level trigger measures; stored by value. Its row in ``TRIGGER_RULES`` says how."""

    DAYS_PAST_DUE = "days_past_due"
    OVERDUE_AMOUNT = "overdue_amount"
    BROKEN_PROMISES = "broken_promises"
    RISK_RATING = "risk_rating"
    BLACKLISTED = "blacklisted"
    OVERDUE_INVOICE_COUNT = "overdue_invoice_count"


class RuleUnit(enum.Enum):
    """The unit of a trigger's threshold as the policy states it."""

    DAYS = "days"
    MAJOR_UNITS = "major_units"
    """Of the customer's currency (100,000 is 100,000.00 USD or 100,000 JPY); compared in
    minor units (the reason's threshold and actual figure are minor units)."""
    PROMISES = "promises"
    RATING_ORDINAL = "rating_ordinal"
    """1=A .. 4=D: a higher ordinal is a worse rating."""
    INVOICES = "invoices"
    NONE = "none"
    """The threshold is ignored."""


class FigureUnit(enum.Enum):
    """The unit of a rule's figure, and of its threshold as compared (a ``Reason``'s
    ``threshold`` and ``actual``): the policy's major units become minor units."""

    DAYS = "days"
    MINOR_UNITS = "minor_units"
    """Of the customer's currency."""
    PROMISES = "promises"
    RATING_ORDINAL = "rating_ordinal"
    """1=A .. 4=D: a higher ordinal is a worse rating."""
    FLAG = "flag"
    """1 when the fact holds (the threshold, ignored, is 0)."""
    INVOICES = "invoices"
    """A number of invoices."""


class Comparison(enum.Enum):
    """How a rule's figure (0 when there is nothing to measure) fires its trigger."""

    AT_LEAST = "at_least"
    """Fires when the figure is positive and at least the threshold."""
    IS_SET = "is_set"
    """Fires when the figure is positive (1: the fact holds); the threshold is ignored."""


@attrs.frozen(kw_only=True)
class TriggerRuleSpec:
    rule: TriggerRule
    unit: RuleUnit
    figure_unit: FigureUnit
    """The unit the figure is measured, and the threshold compared, in."""
    time_driven: bool
    """True when the passage of time alone can make it fire: an open promise suspends these
    rules (and only these); the others come from decisions (a rating, the blacklist)."""
    comparison: Comparison
    threshold_max: int
    """The largest threshold a policy sensibly sets (the tests' ladders draw up to it)."""
    description: str

    def fires(self, actual: int, threshold_compared: int) -> bool:
        """Whether the figure ``actual`` fires a trigger whose threshold, in the figure's unit,
        is ``threshold_compared`` (see the method of that name)."""
        match self.comparison:
            case Comparison.AT_LEAST:
                return actual > 0 and actual >= threshold_compared
            case Comparison.IS_SET:
                return actual > 0
            case _ as unreachable:
                assert_never(unreachable)

    def threshold_compared(self, threshold: int, minor_per_major: int) -> int:
        """The threshold in the unit its figure is measured in (amounts in minor units)."""
        if self.unit is RuleUnit.MAJOR_UNITS:
            return threshold * minor_per_major
        return threshold


_ROWS: Final = (
    TriggerRuleSpec(
        rule=TriggerRule.DAYS_PAST_DUE,
        unit=RuleUnit.DAYS,
        figure_unit=FigureUnit.DAYS,
        time_driven=True,
        comparison=Comparison.AT_LEAST,
        threshold_max=10_000,
        description="days past due of the oldest counted overdue money",
    ),
    TriggerRuleSpec(
        rule=TriggerRule.OVERDUE_AMOUNT,
        unit=RuleUnit.MAJOR_UNITS,
        figure_unit=FigureUnit.MINOR_UNITS,
        time_driven=True,
        comparison=Comparison.AT_LEAST,
        threshold_max=10**12,
        description="counted overdue money, in major units of the account's currency",
    ),
    TriggerRuleSpec(
        rule=TriggerRule.BROKEN_PROMISES,
        unit=RuleUnit.PROMISES,
        figure_unit=FigureUnit.PROMISES,
        time_driven=True,
        comparison=Comparison.AT_LEAST,
        threshold_max=1_000,
        description="promises broken (and partly kept, where the policy counts them)",
    ),
    TriggerRuleSpec(
        rule=TriggerRule.RISK_RATING,
        unit=RuleUnit.RATING_ORDINAL,
        figure_unit=FigureUnit.RATING_ORDINAL,
        time_driven=False,
        comparison=Comparison.AT_LEAST,
        threshold_max=4,
        description="a risk rating at or worse than the threshold (1=A .. 4=D)",
    ),
    TriggerRuleSpec(
        rule=TriggerRule.BLACKLISTED,
        unit=RuleUnit.NONE,
        figure_unit=FigureUnit.FLAG,
        time_driven=False,
        comparison=Comparison.IS_SET,
        threshold_max=0,
        description="on the blacklist",
    ),
    TriggerRuleSpec(
        rule=TriggerRule.OVERDUE_INVOICE_COUNT,
        unit=RuleUnit.INVOICES,
        figure_unit=FigureUnit.INVOICES,
        time_driven=True,
        comparison=Comparison.AT_LEAST,
        threshold_max=10_000,
        description="invoices with counted overdue money (past due, not all in dispute)",
    ),
)

TRIGGER_RULES: Final[Mapping[TriggerRule, TriggerRuleSpec]] = MappingProxyType(
    {row.rule: row for row in _ROWS}
)
"""Every trigger rule's row, in ``TriggerRule`` order (the order reasons are listed in)."""

assert len(TRIGGER_RULES) == len(_ROWS), "a trigger rule has two rows"
assert tuple(TRIGGER_RULES) == tuple(TriggerRule), "every trigger rule needs one row, in order"

TIME_RULES: Final = frozenset(rule for rule, row in TRIGGER_RULES.items() if row.time_driven)
"""Rules that fire with the passage of time; an open promise suspends these, and only these."""
