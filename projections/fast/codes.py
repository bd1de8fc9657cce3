"""The integer codes the fast path's kernels use for enum values, derived from the enums.

A code is the value's index in its enum (``TriggerRule``, ``PromiseStatus``, ``Grade``), so the
kernels, the arrays they fill and the results read back agree by construction; the rule table
(``domain.trigger_rules.TRIGGER_RULES``) becomes bit masks over rule codes, so a kernel asks
``(TIME_DRIVEN_RULES >> rule) & 1`` rather than assuming an order of the rules. Everything is
checked when this module is imported: a code that no longer names its value fails every import.

Numba freezes these module-level integers into the kernels it compiles, and its on-disk cache
is keyed on ``kernels.py``'s own source only: after changing an enum's order or the rule
table, delete the cached kernels (``projections/fast/__pycache__/*.nbi`` and ``*.nbc``, or
wherever ``NUMBA_CACHE_DIR`` points), or compiled code keeps the old codes.
``kernels.compiled_codes`` returns the codes as compiled, and
``tests/unit/test_trigger_rules.py`` compares them with these.
"""

from __future__ import annotations

from typing import Final

from arledger.domain.policy import Grade
from arledger.domain.trigger_rules import TRIGGER_RULES, Comparison, RuleUnit, TriggerRule
from arledger.projections.promises import PromiseStatus

RULES: Final = tuple(TriggerRule)
"""Rule codes: the index in ``TriggerRule`` (the order ``escalation`` sorts reasons by)."""
RULE_COUNT: Final = len(RULES)
DAYS_PAST_DUE: Final = RULES.index(TriggerRule.DAYS_PAST_DUE)
OVERDUE_AMOUNT: Final = RULES.index(TriggerRule.OVERDUE_AMOUNT)
BROKEN_PROMISES: Final = RULES.index(TriggerRule.BROKEN_PROMISES)
RISK_RATING: Final = RULES.index(TriggerRule.RISK_RATING)
BLACKLISTED: Final = RULES.index(TriggerRule.BLACKLISTED)
OVERDUE_INVOICE_COUNT: Final = RULES.index(TriggerRule.OVERDUE_INVOICE_COUNT)


def _mask(rules: set[TriggerRule]) -> int:
    return sum(1 << RULES.index(rule) for rule in rules)


TIME_DRIVEN_RULES: Final = _mask({r for r, row in TRIGGER_RULES.items() if row.time_driven})
"""Bit ``code`` set for each rule the passage of time can fire (an open promise holds these)."""
MAJOR_UNIT_RULES: Final = _mask(
    {r for r, row in TRIGGER_RULES.items() if row.unit is RuleUnit.MAJOR_UNITS}
)
"""Bit ``code`` set for each rule whose threshold is in major units (compared in minor units)."""
IS_SET_RULES: Final = _mask(
    {r for r, row in TRIGGER_RULES.items() if row.comparison is Comparison.IS_SET}
)
"""Bit ``code`` set for each rule that fires on a positive figure whatever the threshold; the
others fire on a positive figure at least the threshold (``Comparison.AT_LEAST``)."""

STATUSES: Final = tuple(PromiseStatus)
"""Promise status codes: the index in ``PromiseStatus`` (``NOT_MADE``: not made by the date)."""
NOT_MADE: Final = -1
OPEN: Final = STATUSES.index(PromiseStatus.OPEN)
KEPT: Final = STATUSES.index(PromiseStatus.KEPT)
PARTLY_KEPT: Final = STATUSES.index(PromiseStatus.PARTLY_KEPT)
BROKEN: Final = STATUSES.index(PromiseStatus.BROKEN)
WITHDRAWN: Final = STATUSES.index(PromiseStatus.WITHDRAWN)
SUPERSEDED: Final = STATUSES.index(PromiseStatus.SUPERSEDED)

GRADES: Final = tuple(Grade)
"""Grade codes: the index in ``Grade`` (-1: no grade, nothing counted overdue)."""
FINANCE_FOLLOW_UP: Final = GRADES.index(Grade.FINANCE_FOLLOW_UP)
FOCUSED_PURSUIT: Final = GRADES.index(Grade.FOCUSED_PURSUIT)
SETTLE: Final = GRADES.index(Grade.SETTLE)
LEGAL_COLLECTION: Final = GRADES.index(Grade.LEGAL_COLLECTION)

RULE_CODES: Final = (
    DAYS_PAST_DUE,
    OVERDUE_AMOUNT,
    BROKEN_PROMISES,
    RISK_RATING,
    BLACKLISTED,
    OVERDUE_INVOICE_COUNT,
)
STATUS_CODES: Final = (OPEN, KEPT, PARTLY_KEPT, BROKEN, WITHDRAWN, SUPERSEDED)
GRADE_CODES: Final = (FINANCE_FOLLOW_UP, FOCUSED_PURSUIT, SETTLE, LEGAL_COLLECTION)

COMPILED: Final = (
    RULE_COUNT,
    *RULE_CODES,
    TIME_DRIVEN_RULES,
    MAJOR_UNIT_RULES,
    IS_SET_RULES,
    NOT_MADE,
    *STATUS_CODES,
    *GRADE_CODES,
)
"""Every code the kernels compile in, in the order ``kernels.compiled_codes`` returns them."""

# Checked at import: each enum value has its named code, and the masks fit the kernels' int64.
assert RULE_COUNT == len(TRIGGER_RULES)
assert RULE_COUNT < 63, "rule masks are int64 bit sets"
assert {RULES[code] for code in RULE_CODES} == set(TriggerRule), "a rule with no kernel code"
assert {STATUSES[code] for code in STATUS_CODES} == set(PromiseStatus)
assert NOT_MADE not in range(len(STATUSES))
assert {GRADES[code] for code in GRADE_CODES} == set(Grade)
