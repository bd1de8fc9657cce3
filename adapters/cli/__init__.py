"""arledger.adapters.cli.

The commands live in ``app`` and in modules of their own that register on its ``app``; they are
imported here, so that ``app`` has every command whichever module is imported first.
"""

from arledger.adapters.cli import allocation as allocation
from arledger.adapters.cli import audit_pack as audit_pack
from arledger.adapters.cli import goods as goods
from arledger.adapters.cli import handover as handover
from arledger.adapters.cli import rates as rates
from arledger.adapters.cli import reductions as reductions
from arledger.adapters.cli import statement as statement
from arledger.adapters.cli import unapplied as unapplied

__all__ = [
    "allocation",
    "audit_pack",
    "goods",
    "handover",
    "rates",
    "reductions",
    "statement",
    "unapplied",
]
