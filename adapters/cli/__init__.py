"""arledger.adapters.cli."""
