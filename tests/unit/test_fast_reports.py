"""The fast path's report helpers: items made column by column equal the same items made by
their classes' ``__init__``, and strings rank in Python's order."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arledger.projections.ageing import AgeingRow
from arledger.projections.escalation import NextAction, NextStep, PreDueReminder, WorklistItem
from arledger.projections.fast.reports import _at_rows, dictionary_ranks, frozen_rows, ranks


def test_frozen_rows_equal_items_made_by_init() -> None:
    action = NextAction(action="phone", level=2, due_on=date(2026, 1, 5), is_overdue=True)
    step = NextStep(
        step="call back",
        due_on=date(2026, 1, 4),
        is_overdue=True,
        agreed_on=date(2026, 1, 1),
        collector="ann",
    )
    reminder = PreDueReminder(
        invoice_number="INV-9",
        due_on=date(2026, 1, 9),
        open_minor=100,
        remind_from_on=date(2026, 1, 4),
    )
    fields = {
        "customer_id": [UUID(int=1), UUID(int=2)],
        "customer_code": ["C-2", "C-1"],
        "name": ["Two", "One"],
        "owner": ["ann", "bob"],
        "currency": ["EUR", "USD"],
        "level": [2, 1],
        "level_name": ["reminder", "notice"],
        "grade": [None, None],
        "overdue_minor": [12_345, 0],
        "days_past_due_max": [40, 3],
        "broken_promises": [1, 0],
        "is_suspended": [False, True],
        "next_action": [action, None],
        "reconciliations": [(), ()],
        "next_step": [None, step],
        "pre_due_reminders": [(reminder,), ()],
    }
    made = frozen_rows(WorklistItem, **fields)
    expected = [
        WorklistItem(**{name: values[row] for name, values in fields.items()}) for row in (0, 1)
    ]
    assert made == expected
    assert [hash(item) for item in made] == [hash(item) for item in expected]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        made[0].level = 3  # type: ignore[misc]


def test_frozen_rows_refuse_missing_fields_and_ragged_columns() -> None:
    row = {
        "key": ["a"],
        "label": ["A"],
        "currency": ["EUR"],
        "buckets_minor": [(1, 2)],
        "open_minor": [3],
        "days_past_due_max": [0],
    }
    with pytest.raises(AssertionError):
        frozen_rows(AgeingRow, **row)  # disputed_minor missing: no default is applied
    with pytest.raises(AssertionError):
        frozen_rows(AgeingRow, **row, disputed_minor=[0, 1])


def test_frozen_rows_refuse_a_class_whose_init_validates() -> None:
    @attrs.frozen
    class Checked:
        amount: int = attrs.field(validator=attrs.validators.instance_of(int))

    with pytest.raises(AssertionError):
        frozen_rows(Checked, amount=[1])


def test_ranks_follow_python_string_order_with_ties_equal() -> None:
    values = ["b", "B", "a", "é", "b", "aa", ""]
    found = ranks(values)
    assert found.dtype == np.int64
    assert sorted(range(len(values)), key=lambda at: (found[at], at)) == sorted(
        range(len(values)), key=lambda at: (values[at], at)
    )
    assert found[0] == found[4]


def test_dictionary_ranks_are_kept_for_the_same_tuple_only() -> None:
    dictionary = ("c", "a", "b")
    first = dictionary_ranks(dictionary)
    assert first.tolist() == [2, 0, 1]
    assert dictionary_ranks(dictionary) is first
    extended = (*dictionary, "0")  # a log's dictionary after new events: a new tuple
    assert dictionary_ranks(extended).tolist() == [3, 1, 2, 0]
    with pytest.raises(ValueError):
        first[0] = 5  # shared between queries: read-only


@given(
    rows=st.lists(st.integers(0, 60), unique=True, max_size=30),
    entries=st.dictionaries(st.integers(0, 80), st.tuples(st.integers()), max_size=20),
)
def test_at_rows_gives_each_rows_entry_or_the_default(
    rows: list[int], entries: dict[int, tuple[int]]
) -> None:
    """The worklist's reconciliations, next steps and reminders placed by NumPy are what a
    look-up row by row gives (entries of rows not listed are left out; tuples stay whole)."""
    default: tuple[int, ...] = ()
    got = _at_rows(entries, np.asarray(rows, dtype=np.int64), default)
    assert [entries.get(row, default) for row in rows] == got
    assert all(type(value) is tuple for value in got)


@given(
    kept=st.lists(st.text(max_size=3), unique=True, min_size=1, max_size=30),
    added=st.lists(st.text(max_size=3), max_size=10),
)
def test_a_dictionary_extending_a_kept_one_ranks_as_ranking_it_whole(
    kept: list[str], added: list[str]
) -> None:
    """Ranked from the kept dictionary's ranks (new values only, not a sort of them all), or
    in full when a new value repeats a kept one or another new one: always as ``ranks``."""
    first = tuple(kept)
    dictionary_ranks(first)
    extended = (*first, *added)

    assert ranks(extended).tolist() == dictionary_ranks(extended).tolist()
    assert ranks(extended).tolist() == dictionary_ranks(extended).tolist()  # kept, then
