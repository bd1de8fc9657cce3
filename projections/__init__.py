"""Pure read models: folds over events and their queries."""
