"""`python -m arledger`: the command line."""

from arledger.adapters.cli.app import main

if __name__ == "__main__":
    main()
