"""Policy as data: how receivables are aged.

Invariant: bucket edges are strictly increasing positive day counts; the buckets they make
cover every day count exactly once (current, then one bucket per edge, then the open end).
"""

from __future__ import annotations

import enum

import attrs

from .errors import ConfigurationError


class AgeingBasis(enum.Enum):
    """Which date an invoice's age counts from; stored by value."""

    DUE_DATE = "due_date"
    ISSUE_DATE = "issue_date"


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
        default=(30, 60, 90, 120), converter=tuple, validator=_check_edges
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
