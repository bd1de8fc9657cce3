"""The query engine makes jemalloc Arrow's allocator for the process unless the process chose
one (``adapters/read_models/arrow_memory.py`` says why): checked in fresh processes, where
Arrow's default is still its own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ARROW_POOL = """
import pyarrow as pa
from arledger.adapters.application.ledger import Ledger
before = pa.default_memory_pool().backend_name
ledger = Ledger(env={"ARLEDGER_STORE": "memory"})
ledger.query_engine()
ledger.close()
print(before, pa.default_memory_pool().backend_name)
"""


@pytest.mark.parametrize(
    ("chosen", "expected"), [(None, "jemalloc"), ("system", "system"), ("mimalloc", "mimalloc")]
)
def test_the_engine_takes_jemalloc_for_arrow_unless_the_process_chose_a_pool(
    chosen: str | None, expected: str
) -> None:
    env = {key: value for key, value in os.environ.items() if key != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    result = subprocess.run(
        [sys.executable, "-c", ARROW_POOL], env=env, capture_output=True, text=True, check=True
    )
    before, after = result.stdout.split()
    assert (before, after) == (chosen or "mimalloc", expected)
