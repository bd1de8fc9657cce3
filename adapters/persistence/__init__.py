"""arledger.adapters.persistence."""
