"""Domain errors: one hierarchy under ``ArledgerError``.

Operating errors are things a customer or bad data can cause. Each carries the ids and amounts
involved as attributes, not only in its message, so a service can react without parsing text.
Programmer errors (broken invariants) are ``assert`` statements, never these classes.
"""

from __future__ import annotations

from typing import Any


class ArledgerError(Exception):
    """Base of every error arledger raises on purpose."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        for key, value in details.items():
            setattr(self, key, value)


# Money and currencies -------------------------------------------------------------------------


class MoneyError(ArledgerError, ValueError):
    """An amount or currency that cannot be represented exactly."""


class UnknownCurrencyError(MoneyError):
    """The currency code is not in the exponent table."""


class CurrencyMismatchError(MoneyError):
    """Two amounts, or an amount and an account, are in different currencies."""


class AccountCurrencyError(CurrencyMismatchError):
    """An invoice, payment, credit note or order in another currency than the customer's
    account (``customer_code``, ``account_currency``, the given ``currency``)."""


class AmountPrecisionError(MoneyError):
    """An amount has more decimals than its currency's minor unit allows, or is a float."""


class InvalidAmountError(MoneyError):
    """An amount that must be positive is zero or negative, or is not a number at all."""


# Commands on aggregates ----------------------------------------------------------------------


class InvalidCommandError(ArledgerError, ValueError):
    """A command that breaks a business rule; nothing was recorded."""


class InvalidDateError(InvalidCommandError):
    """A date that is impossible in context, such as a due date before the issue date, or one
    outside the dates the ledger accepts (``rules.DATE_MIN`` to ``rules.DATE_MAX``)."""


class InvalidTextError(InvalidCommandError):
    """Text that is not what its field accepts (``domain/text.py``): not Unicode scalar values,
    control characters, invisible characters in a key, blank, padded or too long.

    ``field`` names the argument; ``value`` is a printable escape of the text, never the text
    itself, so the error can be printed and logged whatever the text held.
    """


class InvalidInstalmentScheduleError(InvalidCommandError):
    """An instalment schedule that does not sum to the invoice amount or is out of order."""


class OverAllocationError(InvalidCommandError):
    """An allocation larger than the payment's unapplied amount or the invoice's open amount."""


class InvoiceStateError(InvalidCommandError):
    """The invoice is not in a state that allows the command (written off, settled, ...)."""


class PaymentStateError(InvalidCommandError):
    """The payment is not in a state that allows the command (already reversed, ...)."""


class CustomerStateError(InvalidCommandError):
    """The customer account is not in a state that allows the command (already on hold, ...)."""


class DisputedAmountError(InvalidCommandError):
    """A disputed or upheld amount larger than what is open (or disputed)."""


class DisputeStateError(InvalidCommandError):
    """The dispute is not in a state that allows the command (already resolved, ...)."""


class PromiseStateError(InvalidCommandError):
    """The promise is not open (withdrawn or superseded)."""


class PromiseAmountError(InvalidCommandError):
    """A promise larger than what its invoices (or the account) had open the day it was made."""


class DuplicateKeyConflictError(InvalidCommandError):
    """A business key (invoice number, bank reference, ...) is reused with different content."""


class AllocationKeyConflictError(DuplicateKeyConflictError):
    """An allocation key already used on the payment for another allocation (``allocation_key``,
    ``bank_reference``)."""


class TooManyItemsError(InvalidCommandError):
    """A command names more items than a documented maximum allows."""


# Look-ups -----------------------------------------------------------------------------------


class NotFoundError(ArledgerError, LookupError):
    """Something named by a command does not exist in the ledger."""


class CustomerNotFoundError(NotFoundError):
    """No customer account with that code or id."""


class InvoiceNotFoundError(NotFoundError):
    """No invoice with that number or id."""


class PaymentNotFoundError(NotFoundError):
    """No payment with that bank reference or id."""


# Infrastructure, as the domain sees it -------------------------------------------------------


class ConfirmationNotFoundError(NotFoundError):
    """No balance confirmation with that reference was sent."""


class DisputeNotFoundError(NotFoundError):
    """No dispute with that reference on the invoice."""


class PromiseNotFoundError(NotFoundError):
    """No promise to pay with that reference."""


class ConcurrencyError(ArledgerError, RuntimeError):
    """Another writer kept changing the same aggregates; retries were exhausted."""


class StoreUnavailableError(ArledgerError, RuntimeError):
    """The event store cannot be opened or reached: a server that does not answer, a database
    or user that does not exist, a file that is not a SQLite database. ``store`` describes it,
    ``setting`` names the setting to check; nothing was read or recorded."""


class StoreBusyError(ArledgerError, RuntimeError):
    """A wait on the store ran out of time: a lock another session held (``setting``
    ``ARLEDGER_LOCK_TIMEOUT``), a statement that ran too long (``ARLEDGER_STATEMENT_TIMEOUT``)
    or no free connection. ``store`` describes it, ``waited_s`` is the limit that ran out.
    What was being written was rolled back (nothing recorded); the call may be retried."""


class ReadModelMismatchError(ArledgerError, RuntimeError):
    """The stored read models have folded events the log no longer holds at their positions
    (events removed, or the store restored from an older copy): ``position`` is where the read
    models are, ``head`` the log's last event. Nothing is served until they are rebuilt."""


class ImportRowError(ArledgerError, ValueError):
    """A row of an imported file is invalid; nothing of the file was recorded."""


class ConfigurationError(ArledgerError, ValueError):
    """The store or policy configuration is invalid."""


class RejectsPathError(ConfigurationError):
    """The rejected rows of an import cannot go to that path (the store, the imported file, a
    directory, a file arledger did not write); ``path`` and ``conflict`` say which and why.
    Nothing was recorded."""
