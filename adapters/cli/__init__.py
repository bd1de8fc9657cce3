"""arledger.adapters.cli.

The commands live in ``app`` and in modules of their own that register on its ``app``; they are
imported here, so that ``app`` has every command whichever module is imported first.
"""

from arledger.adapters.cli import audit_pack as audit_pack
from arledger.adapters.cli import backtest as backtest
from arledger.adapters.cli import statement as statement
from arledger.adapters.cli import unapplied as unapplied

__all__ = ["audit_pack", "backtest", "statement", "unapplied"]
