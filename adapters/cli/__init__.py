"""arledger.adapters.cli.

The commands live in ``app`` (demo, import), ``queries`` (ageing, kpis, worklist, explain),
``operations`` (generate, export, projections, verify, chain, warm-up), ``distress`` (case
diagnose, bankruptcy, fraud) and modules of their own
(``summary``: the book at a glance, which ``demo`` prints too),
each registering on ``app.app``; the output formats of the query commands are in ``formats``.
They are imported here, so that ``app`` has every command whichever module is imported first.
"""

from arledger.adapters.cli import allocation as allocation
from arledger.adapters.cli import audit_pack as audit_pack
from arledger.adapters.cli import backtest as backtest
from arledger.adapters.cli import distress as distress
from arledger.adapters.cli import goods as goods
from arledger.adapters.cli import handover as handover
from arledger.adapters.cli import letters as letters
from arledger.adapters.cli import operations as operations
from arledger.adapters.cli import plans as plans
from arledger.adapters.cli import queries as queries
from arledger.adapters.cli import rates as rates
from arledger.adapters.cli import recompute as recompute
from arledger.adapters.cli import reductions as reductions
from arledger.adapters.cli import report as report
from arledger.adapters.cli import statement as statement
from arledger.adapters.cli import summary as summary
from arledger.adapters.cli import unapplied as unapplied

__all__ = [
    "allocation",
    "audit_pack",
    "backtest",
    "distress",
    "goods",
    "handover",
    "letters",
    "operations",
    "plans",
    "queries",
    "rates",
    "reductions",
    "report",
    "statement",
    "summary",
    "unapplied",
]
