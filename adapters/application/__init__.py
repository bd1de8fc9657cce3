"""arledger.adapters.application."""
