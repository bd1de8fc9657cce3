"""What ``Ledger.verify`` reports: typed, exported from ``arledger``."""

from __future__ import annotations

import enum

import attrs


class FindingKind(enum.Enum):
    """What a finding is about."""

    NO_CHAIN = "no_chain"
    CHAIN = "chain"
    HEAD = "head"
    DECODE = "decode"
    REPLAY = "replay"
    READ_MODEL = "read_model"
    SEGMENTS = "segments"


@attrs.frozen(kw_only=True)
class Finding:
    """One thing wrong, at the first position it concerns (None: the store as a whole)."""

    kind: FindingKind
    position: int | None
    message: str

    def __str__(self) -> str:
        where = "store" if self.position is None else f"position {self.position}"
        return f"{where}: {self.kind.value}: {self.message}"


@attrs.frozen(kw_only=True)
class VerifyReport:
    """What ``Ledger.verify`` found: nothing wrong when ``findings`` is empty."""

    from_position: int
    """The first position checked."""
    events_checked: int
    """Stored records read and checked from ``from_position`` on."""
    head_position: int
    """The chain's last position (0: no chain)."""
    head_link: str
    """The chain's last link, hex (empty: no chain): write it down and give it later as
    ``expect_head``."""
    replayed: bool
    """Aggregates replayed and read models compared (a full pass, from position 1)."""
    findings: tuple[Finding, ...]
    findings_omitted: int = 0
    """Findings beyond ``FINDINGS_MAX``, not listed."""

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad_position(self) -> int | None:
        positions = [f.position for f in self.findings if f.position is not None]
        return min(positions) if positions else None
