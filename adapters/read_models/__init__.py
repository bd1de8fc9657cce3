"""arledger.adapters.read_models."""
