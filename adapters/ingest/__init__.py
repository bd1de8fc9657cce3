"""arledger.adapters.ingest."""
