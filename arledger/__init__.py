"""arledger: an event-sourced accounts-receivable ledger and collections core.

The public API, re-exported from the layers: the domain's values, events and errors, the
projections' read models, and the ``Ledger`` application that records commands.
"""

from arledger.adapters.application.ledger import Ledger, Result
from arledger.domain.errors import (
    AccountCurrencyError,
    AllocationKeyConflictError,
    ArledgerError,
    CommandFormatError,
    ConcurrencyError,
    ConfigurationError,
    CurrencyMismatchError,
    CustomerMismatchError,
    CustomerNotFoundError,
    DuplicateKeyConflictError,
    IdempotencyKeyConflictError,
    InvalidChoiceError,
    InvalidCommandError,
    InvoiceNotFoundError,
    MoneyError,
    NotFoundError,
    NothingToAllocateError,
    OverAllocationError,
    PaymentNotFoundError,
    PromiseAmountError,
    ReadModelMismatchError,
    RepeatedInvoiceError,
    StoreBusyError,
    StoreUnavailableError,
)
from arledger.domain.events import Instalment, PaymentTermsKind
from arledger.domain.money import Money
from arledger.domain.policy import AgeingBasis, AgeingPolicy
from arledger.projections.ageing import AgeingGrouping, AgeingReport, AgeingRow

__all__ = [
    "AccountCurrencyError",
    "AgeingBasis",
    "AgeingGrouping",
    "AgeingPolicy",
    "AgeingReport",
    "AgeingRow",
    "AllocationKeyConflictError",
    "ArledgerError",
    "CommandFormatError",
    "ConcurrencyError",
    "ConfigurationError",
    "CurrencyMismatchError",
    "CustomerMismatchError",
    "CustomerNotFoundError",
    "DuplicateKeyConflictError",
    "IdempotencyKeyConflictError",
    "Instalment",
    "InvalidChoiceError",
    "InvalidCommandError",
    "InvoiceNotFoundError",
    "Ledger",
    "Money",
    "MoneyError",
    "NotFoundError",
    "NothingToAllocateError",
    "OverAllocationError",
    "PaymentNotFoundError",
    "PaymentTermsKind",
    "PromiseAmountError",
    "ReadModelMismatchError",
    "RepeatedInvoiceError",
    "Result",
    "StoreBusyError",
    "StoreUnavailableError",
]
