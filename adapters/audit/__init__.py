"""Audits: verifying the stored log, its hash chain and what is derived from it."""
