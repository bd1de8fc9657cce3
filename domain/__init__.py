"""The pure domain: money, events, aggregates (decide/evolve), policy and errors."""
