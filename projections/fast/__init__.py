"""arledger.projections.fast."""
