"""The benchmark profiles (``medium``, ``large``) run only when ``-m`` names them: a ``-m`` of
one's own replaces pyproject's default, and must not start 100k- to 10M-invoice benchmarks."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import pytest_collection_modifyitems


class Item:
    def __init__(self, name: str, *markers: str) -> None:
        self.name = name
        self.markers = markers

    def get_closest_marker(self, name: str) -> str | None:
        return name if name in self.markers else None


class Config:
    def __init__(self, markexpr: str) -> None:
        self.markexpr = markexpr
        self.deselected: list[Any] = []
        self.hook = self

    def getoption(self, name: str) -> str:
        assert name == "markexpr"
        return self.markexpr

    def pytest_deselected(self, items: list[Any]) -> None:
        self.deselected.extend(items)


ITEMS = (
    Item("unit"),
    Item("slow one", "slow"),
    Item("engine at 100k", "medium", "slow"),
    Item("ledger at 1M", "medium", "large"),
    Item("fast path at 10M", "large"),
)


@pytest.mark.parametrize(
    ("markexpr", "kept"),
    [
        # pyproject's default names both: pytest's own -m filter then drops them.
        ("not large and not medium", [item.name for item in ITEMS]),
        ("not slow", ["unit", "slow one"]),  # the marker filter itself runs later
        ("medium", ["unit", "slow one", "engine at 100k", "ledger at 1M"]),
        ("large", ["unit", "slow one", "ledger at 1M", "fast path at 10M"]),
        ("", ["unit", "slow one"]),
    ],
)
def test_a_profile_runs_only_when_named(markexpr: str, kept: list[str]) -> None:
    config = Config(markexpr)
    items: list[Any] = list(ITEMS)

    pytest_collection_modifyitems(config, items)  # type: ignore[arg-type]

    assert kept == [item.name for item in items]
    assert len(ITEMS) - len(kept) == len(config.deselected)
