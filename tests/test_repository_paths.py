"""Tests and benchmarks read nothing outside the repository.

A fresh clone has nothing beside it (the team's common folder of documents and sample data is
not part of the project): data a test needs lives in ``tests/data``. This test reads every
Python file of the suite and refuses a path into that folder.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A path into the team's folder, however it is spelled (dot-dot slash, a parent joined with
# the folder's name, or the folder's data path). Built from pieces so that this file does not
# match itself.
SHARED = "sha" + "red"
OUTSIDE = re.compile(
    rf"""\.\./{SHARED}\b|/\s*["']{SHARED}["']|["']{SHARED}/data|["']{SHARED}["']\s*/"""
)


def test_outside_pattern_catches_the_spellings_seen_before() -> None:
    spellings = [
        'ROOT.parent / "' + SHARED + '" / "data"',
        "open('../" + SHARED + "/data/x.csv')",
        'Path("' + SHARED + '/data/x.csv")',
    ]
    assert [True, True, True] == [bool(OUTSIDE.search(text)) for text in spellings]
    assert OUTSIDE.search('Path(__file__).parent / "data" / "x.csv"') is None


def test_no_test_or_benchmark_refers_to_the_shared_folder() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("tests", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert [] == offenders


def test_the_ibm_sample_is_in_the_repository() -> None:
    sample = ROOT / "tests" / "data" / "ibm-late-payment-histories.csv"
    lines = sample.read_text(encoding="utf-8").splitlines()
    assert 2466 + 1 == len(lines)
