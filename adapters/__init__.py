"""The edges: event store, serialization, store configuration, import, CLI."""
