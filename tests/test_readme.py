"""The README's first screen promises two set-up commands; CI must run the second verbatim."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIRST_SCREEN_LINES = 40
README = ROOT / "README.md"


def first_screen_commands() -> list[str]:
    first_screen = "\n".join(
        (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:FIRST_SCREEN_LINES]
    )
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", first_screen, re.S)]


def test_the_first_screen_gives_exactly_two_commands_demo_then_tests() -> None:
    commands = first_screen_commands()

    assert 2 == len(commands)
    assert all("\n" not in command for command in commands)
    assert commands[0].endswith("arledger demo")
    assert commands[1].endswith(
        "pytest -n auto --dist worksteal tests && .venv/bin/pytest benchmarks"
    )


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()

    # `|| exit 1`: under `set -e` a failure before the last `&&` of a list would not stop CI.
    assert f"{first_screen_commands()[1]} || exit 1" in ci_lines


def test_the_fast_path_example_runs_as_written(tmp_path: Path, monkeypatch: Any) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    (example,) = [block for block in blocks if "fast_portfolio(" in block]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}

    exec("from datetime import date\n" + example, namespace)

    result = namespace["result"]
    assert len(result.customers.level) == len(result.customers.grade) > 0
    assert 100_000 == len(result.invoices.open_minor)


def test_the_domain_readme_catalogues_every_event_once() -> None:
    """``domain/README.md``'s event catalogue has one line per class in ``ALL_EVENTS`` (issue 13
    added overrides, authority, requests, goods, handover and rates: none may be missing)."""
    from arledger.domain.events import ALL_EVENTS

    text = (ROOT / "domain" / "README.md").read_text(encoding="utf-8")
    catalogue = text.split("## Event catalogue", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \|", catalogue, flags=re.MULTILINE)

    assert sorted(cls.__name__ for cls in ALL_EVENTS) == sorted(rows)
