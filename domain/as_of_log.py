"""The point of the event log a query's answer reflects (issue 12: commit order for audits)."""

from __future__ import annotations

from datetime import datetime

import attrs


@attrs.frozen
class AsOfLog:
    """The log position a query's answer reflects, the hash-chain link there and the instant
    the transaction that wrote it took its positions: asked again with
    ``at_position=position``, the query gives the same answer, and with
    ``known_at=committed_at`` too (commit instants rise strictly with position).

    ``position`` 0: an empty log. ``link`` (hex) and ``committed_at`` are None where the store
    keeps no chain (in memory) or the link was built after the fact (``arledger chain build``:
    the instant was never recorded). ``stamped_by``: set when ``known_at`` could not be
    resolved to a position (no commit instants recorded by then) and the answer counts, up to
    ``position``, only the events stamped by that instant, as before commit instants existed.
    """

    position: int
    link: str | None = None
    committed_at: datetime | None = None
    stamped_by: datetime | None = None
