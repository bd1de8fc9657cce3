"""arledger.adapters.synthetic."""
