"""Domain errors: one hierarchy under ``ArledgerError``.

Operating errors are things a customer or bad data can cause. Each carries the ids and amounts
involved as typed attributes, not only in its message, so a service can react without parsing
text. Programmer errors (broken invariants) are ``assert`` statements, never these classes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import attrs


@attrs.define(kw_only=True, slots=False)
class ArledgerError(Exception):
    """Base of every error arledger raises on purpose.

    Each class is an attrs class declaring the fields it carries, typed, defaulting to None
    (a raise site with nothing to say for one leaves it out). The constructor takes the
    message and then those fields by keyword, so mypy checks every raise site: a field the
    class does not declare, or a value of the wrong type, fails the type check (and the
    undeclared one, a ``TypeError`` at run time), and a caller reads ``error.invoice_number``
    with its type known. ``str(error)`` is the message alone.
    """

    message: str = attrs.field(kw_only=False)

    def __str__(self) -> str:
        return self.message

    @property
    def details(self) -> dict[str, object]:
        """The fields that have a value, by name: for logs, and for code that treats every
        error alike (the importer naming the field of a refused row)."""
        return {
            field.name: value
            for field in attrs.fields(type(self))
            if field.name != "message" and (value := getattr(self, field.name)) is not None
        }

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle by field: the exception default rebuilds from ``args`` positionally, which
        holds every field's value and would not fit the keyword-only constructor."""
        return (_rebuilt, (type(self), attrs.asdict(self, recurse=False)))


def _rebuilt(cls: type[ArledgerError], fields: dict[str, Any]) -> ArledgerError:
    return cls(**fields)


# Money and currencies -------------------------------------------------------------------------


@attrs.define(kw_only=True, slots=False)
class MoneyError(ArledgerError, ValueError):
    """An amount or currency that cannot be represented exactly."""

    currency: str | None = None
    value: object = None
    """The value refused, as given."""


@attrs.define(kw_only=True, slots=False)
class UnknownCurrencyError(MoneyError):
    """The currency code is not in the exponent table."""


@attrs.define(kw_only=True, slots=False)
class CurrencyMismatchError(MoneyError):
    """Two amounts, or an amount and an account, are in different currencies."""

    other_currency: str | None = None
    bank_reference: str | None = None
    invoice_number: str | None = None
    credit_note_number: str | None = None


@attrs.define(kw_only=True, slots=False)
class AccountCurrencyError(CurrencyMismatchError):
    """An invoice, payment, credit note or order in another currency than the customer's
    account (``customer_code``, ``account_currency``, the given ``currency``)."""

    customer_code: str | None = None
    account_currency: str | None = None


@attrs.define(kw_only=True, slots=False)
class AmountPrecisionError(MoneyError):
    """An amount has more decimals than its currency's minor unit allows, or is a float."""

    exponent: int | None = None


@attrs.define(kw_only=True, slots=False)
class InvalidAmountError(MoneyError):
    """An amount that must be positive is zero or negative, or is not a number at all."""

    field: str | None = None
    amount_minor: int | None = None
    total_minor: int | None = None
    weights: list[int] | None = None
    registered_capital_minor: int | None = None
    customer_code: str | None = None
    ending_ar_minor: int | None = None
    sales_minor: int | None = None
    total_minor_approximate: float | None = None


# Commands on aggregates ----------------------------------------------------------------------


@attrs.define(kw_only=True, slots=False)
class InvalidCommandError(ArledgerError, ValueError):
    """A command that breaks a business rule; nothing was recorded."""

    field: str | None = None
    """The argument refused."""
    value: object = None
    customer_code: str | None = None
    invoice_number: str | None = None
    bank_reference: str | None = None
    promise_reference: str | None = None
    upheld_minor: int | None = None
    terms_days: object = None
    commands: int | None = None


@attrs.define(kw_only=True, slots=False)
class InvalidExchangeRateError(InvalidCommandError):
    """An exchange rate that is not a positive finite decimal of bounded precision, or a pair
    of one currency with itself."""

    from_currency: str | None = None
    to_currency: str | None = None


@attrs.define(kw_only=True, slots=False)
class InvalidDateError(InvalidCommandError):
    """A date that is impossible in context, such as a due date before the issue date, or one
    outside the dates the ledger accepts (``rules.DATE_MIN`` to ``rules.DATE_MAX``)."""

    date_min: date | None = None
    date_max: date | None = None
    start_on: date | None = None
    end_on: date | None = None
    issued_on: date | None = None
    due_on: date | None = None
    floor_on: date | None = None
    made_on: date | None = None
    confirmation_reference: str | None = None
    days: int | None = None
    known_at: datetime | None = None


@attrs.define(kw_only=True, slots=False)
class LogPositionError(InvalidCommandError):
    """A query's cut of the log that names no point of it: ``at_position`` beyond the log's
    last position (``head``) or below 0, or given together with ``known_at`` (one cut only)."""

    at_position: int | None = None
    head: int | None = None
    known_at: datetime | None = None


@attrs.define(kw_only=True, slots=False)
class InvalidTextError(InvalidCommandError):
    """Text that is not what its field accepts (``domain/text.py``): not Unicode scalar values,
    control characters, invisible characters in a key, blank, padded or too long.

    ``field`` names the argument; ``value`` is a printable escape of the text, never the text
    itself, so the error can be printed and logged whatever the text held.
    """

    position: int | None = None
    code_point: int | None = None
    length: int | None = None
    length_max: int | None = None


@attrs.define(kw_only=True, slots=False)
class InvalidInstalmentScheduleError(InvalidCommandError):
    """An instalment schedule that does not sum to the invoice amount or is out of order."""

    amount_minor: int | None = None


@attrs.define(kw_only=True, slots=False)
class OverAllocationError(InvalidCommandError):
    """An allocation larger than the payment's unapplied amount or the invoice's open amount."""

    payment_id: UUID | None = None
    invoice_id: UUID | None = None
    amount_minor: int | None = None
    unapplied_minor: int | None = None
    open_minor: int | None = None


@attrs.define(kw_only=True, slots=False)
class InvoiceStateError(InvalidCommandError):
    """The invoice is not in a state that allows the command (written off, settled, ...)."""

    invoice_id: UUID | None = None
    amount_minor: int | None = None
    open_minor: int | None = None


@attrs.define(kw_only=True, slots=False)
class PaymentStateError(InvalidCommandError):
    """The payment is not in a state that allows the command (already reversed, ...)."""

    payment_id: UUID | None = None


@attrs.define(kw_only=True, slots=False)
class CashNotHandedOverError(PaymentStateError):
    """Cash or a cheque collected in person by ``received_by`` settles invoices only from its
    handover to finance (the policy in force on its value date says so), and it was not handed
    over by the allocation date (``allocated_on``)."""

    received_by: str | None = None
    allocated_on: date | None = None


@attrs.define(kw_only=True, slots=False)
class CustomerStateError(InvalidCommandError):
    """The customer account is not in a state that allows the command (already on hold, ...)."""

    confirmation_reference: str | None = None


@attrs.define(kw_only=True, slots=False)
class GoodsSettlementStateError(InvalidCommandError):
    """A settlement in goods is not in a state that allows the command (approved before it was
    proposed, settled before it was approved, settled twice, ...), or its amounts do not add
    up to its approved value."""

    settlement_reference: str | None = None
    status: str | None = None
    amount_minor: int | None = None
    approved_minor: int | None = None


@attrs.define(kw_only=True, slots=False)
class GoodsSettlementApprovalError(InvalidCommandError):
    """An approval of a settlement in goods outside the approver's authority (for now: by the
    goods' own appraiser, or by no named person)."""

    settlement_reference: str | None = None
    approver: str | None = None
    appraiser: str | None = None
    amount_minor: int | None = None


@attrs.define(kw_only=True, slots=False)
class DisputedAmountError(InvalidCommandError):
    """A disputed or upheld amount larger than what is open (or disputed)."""

    amount_minor: int | None = None
    open_minor: int | None = None
    undisputed_minor: int | None = None
    disputed_minor: int | None = None


@attrs.define(kw_only=True, slots=False)
class DisputeStateError(InvalidCommandError):
    """The dispute is not in a state that allows the command (already resolved, ...)."""

    dispute_reference: str | None = None


@attrs.define(kw_only=True, slots=False)
class PromiseStateError(InvalidCommandError):
    """The promise is not open (withdrawn or superseded)."""


@attrs.define(kw_only=True, slots=False)
class PromiseAmountError(InvalidCommandError):
    """A promise larger than what its invoices (or the account) had open the day it was made."""

    amount_minor: int | None = None
    open_minor: int | None = None
    made_on: date | None = None


@attrs.define(kw_only=True, slots=False)
class DuplicateKeyConflictError(InvalidCommandError):
    """A business key (invoice number, bank reference, ...) is reused with different content."""

    payment_id: UUID | None = None
    invoice_id: UUID | None = None
    customer_id: UUID | None = None
    credit_note_number: str | None = None
    credit_note_id: UUID | None = None
    used_on_invoice_id: UUID | None = None
    dispute_reference: str | None = None
    confirmation_reference: str | None = None
    policy_version: int | None = None


@attrs.define(kw_only=True, slots=False)
class IdempotencyKeyConflictError(DuplicateKeyConflictError):
    """An idempotency key already used for other content (``idempotency_key``): a retry must
    send the same commands, field for field, as the first attempt. Nothing was recorded."""

    idempotency_key: str | None = None


@attrs.define(kw_only=True, slots=False)
class AllocationKeyConflictError(IdempotencyKeyConflictError):
    """An allocation key already used on the payment for another allocation (``allocation_key``,
    also as ``idempotency_key``, and ``bank_reference``): the per-payment form of an
    idempotency key."""

    allocation_key: str | None = None


@attrs.define(kw_only=True, slots=False)
class CommandFormatError(InvalidCommandError):
    """Data that describes no command (unknown ``command_name``, missing, unknown or mistyped
    fields): nothing was recorded."""

    command_name: str | None = None


@attrs.define(kw_only=True, slots=False)
class CustomerMismatchError(InvalidCommandError):
    """An invoice of another customer named where only the customer's own may be: in the
    allocation of a payment (``bank_reference``, ``invoice_number``), in a promise
    (``promise_reference``, ``invoice_number``, the promising ``customer_code``), or a promise
    superseding another customer's (``promise_reference``, ``customer_code``). Nothing was
    recorded."""


@attrs.define(kw_only=True, slots=False)
class RepeatedInvoiceError(InvalidCommandError):
    """An invoice named twice in one allocation or one promise."""


@attrs.define(kw_only=True, slots=False)
class NothingToAllocateError(InvalidCommandError):
    """An automatic allocation found no open invoice of the payer to settle
    (``bank_reference``): the payment stays unapplied."""


@attrs.define(kw_only=True, slots=False)
class AutomaticAllocationRefusedError(InvalidCommandError):
    """The payer's allocation rule in force on the payment's value date (``allocation_rule``,
    ``explicit_only``) allows no automatic allocation (``bank_reference``): the money stays
    unapplied until an allocation names the invoices. Nothing was recorded."""

    allocation_rule: str | None = None
    effective_on: date | None = None


@attrs.define(kw_only=True, slots=False)
class InvalidChoiceError(InvalidCommandError):
    """A value that is not one of its field's choices (an enum: a channel, a rating, a dispute
    reason or outcome, a contact role, terms, a delinquency type): ``field``, ``value``."""


@attrs.define(kw_only=True, slots=False)
class TooManyItemsError(InvalidCommandError):
    """A command names more items than a documented maximum allows."""


# Look-ups -----------------------------------------------------------------------------------


@attrs.define(kw_only=True, slots=False)
class ApprovalError(InvalidCommandError):
    """A reduction (credit note, upheld dispute, concession, write-off) without the approval
    the authority policy in force on its date asks for; nothing was recorded.

    ``limit`` names which limit was passed (``per reduction`` or ``per customer per period``),
    ``limit_minor`` its amount and ``role`` the approver's role; ``approved_minor`` is what the
    approver's role (anyone holding it) had already approved for the customer in the period.
    """

    approver: str | None = None
    role: str | None = None
    limit: str | None = None
    limit_minor: int | None = None
    amount_minor: int | None = None
    approved_minor: int | None = None
    limit_days: int | None = None
    postponement_days: int | None = None
    currency: str | None = None
    policy_version: int | None = None
    request_reference: str | None = None


@attrs.define(kw_only=True, slots=False)
class ApproverRequiredError(ApprovalError):
    """A reduction names no approver."""


@attrs.define(kw_only=True, slots=False)
class UnknownApproverError(ApprovalError):
    """The approver has no role in the authority policy in force (or the role no limits in
    the reduction's currency)."""


@attrs.define(kw_only=True, slots=False)
class AuthorityLimitError(ApprovalError):
    """The reduction is over a limit of the approver's role."""


@attrs.define(kw_only=True, slots=False)
class SecondApproverRequiredError(ApprovalError):
    """The reduction is above the role's two-approver threshold: request it
    (``RequestReduction``) and have a second person approve it."""


@attrs.define(kw_only=True, slots=False)
class ReductionRequestStateError(ApprovalError):
    """A request already applied or rejected, or approved twice by the same person."""


@attrs.define(kw_only=True, slots=False)
class NotFoundError(ArledgerError, LookupError):
    """Something named by a command does not exist in the ledger."""

    customer_code: str | None = None
    customer_id: UUID | None = None
    invoice_number: str | None = None
    bank_reference: str | None = None
    promise_reference: str | None = None
    dispute_reference: str | None = None
    confirmation_reference: str | None = None
    row: object = None


@attrs.define(kw_only=True, slots=False)
class ExchangeRateNotFoundError(NotFoundError):
    """No exchange rate for the pair (``from_currency`` -> ``to_currency``) is in force on
    ``on`` (none recorded with an effective date on or before it, as known at ``known_at``)."""

    from_currency: str | None = None
    to_currency: str | None = None
    on: date | None = None
    known_at: datetime | None = None


@attrs.define(kw_only=True, slots=False)
class CustomerNotFoundError(NotFoundError):
    """No customer account with that code or id."""


@attrs.define(kw_only=True, slots=False)
class OwnerNotFoundError(NotFoundError):
    """No customer account was ever in the care of that collection ``owner``."""

    owner: str | None = None


@attrs.define(kw_only=True, slots=False)
class InvoiceNotFoundError(NotFoundError):
    """No invoice with that number or id."""


@attrs.define(kw_only=True, slots=False)
class PaymentNotFoundError(NotFoundError):
    """No payment with that bank reference or id."""


# Infrastructure, as the domain sees it -------------------------------------------------------


@attrs.define(kw_only=True, slots=False)
class ConfirmationNotFoundError(NotFoundError):
    """No balance confirmation with that reference was sent."""


@attrs.define(kw_only=True, slots=False)
class DisputeNotFoundError(NotFoundError):
    """No dispute with that reference on the invoice."""


@attrs.define(kw_only=True, slots=False)
class GoodsSettlementNotFoundError(NotFoundError):
    """No settlement in goods with that reference was proposed for the customer."""

    settlement_reference: str | None = None


@attrs.define(kw_only=True, slots=False)
class PromiseNotFoundError(NotFoundError):
    """No promise to pay with that reference."""


@attrs.define(kw_only=True, slots=False)
class ReconciliationNotFoundError(NotFoundError):
    """No reconciliation item for that confirmation: none was sent, it is not acknowledged
    yet, or it was acknowledged without a difference (``confirmation_reference``)."""


@attrs.define(kw_only=True, slots=False)
class ReductionRequestNotFoundError(NotFoundError):
    """No reduction request with that reference."""

    request_reference: str | None = None


@attrs.define(kw_only=True, slots=False)
class ReconciliationReferenceError(NotFoundError):
    """The credit note, payment or dispute named to resolve a reconciliation item is not the
    customer's in the log (``resolution``, ``reference``)."""

    resolution: str | None = None
    reference: str | None = None


@attrs.define(kw_only=True, slots=False)
class ConcurrencyError(ArledgerError, RuntimeError):
    """Another writer kept changing the same aggregates; retries were exhausted."""

    attempts: int | None = None
    path: str | None = None
    events_recorded: int | None = None


@attrs.define(kw_only=True, slots=False)
class StoreUnavailableError(ArledgerError, RuntimeError):
    """The event store cannot be opened or reached: a server that does not answer, a database
    or user that does not exist, a file that is not a SQLite database. ``store`` describes it,
    ``setting`` names the setting to check; nothing was read or recorded."""

    store: str | None = None
    setting: str | None = None
    reason: str | None = None


@attrs.define(kw_only=True, slots=False)
class StoreBusyError(ArledgerError, RuntimeError):
    """A wait on the store ran out of time: a lock another session held (``setting``
    ``ARLEDGER_LOCK_TIMEOUT``), a statement that ran too long (``ARLEDGER_STATEMENT_TIMEOUT``)
    or no free connection. ``store`` describes it, ``waited_s`` is the limit that ran out.
    What was being written was rolled back (nothing recorded); the call may be retried."""

    store: str | None = None
    setting: str | None = None
    waited_s: float | None = None
    reason: str | None = None


@attrs.define(kw_only=True, slots=False)
class ReadModelMismatchError(ArledgerError, RuntimeError):
    """The stored read models have folded events the log no longer holds at their positions
    (events removed, or the store restored from an older copy): ``position`` is where the read
    models are, ``head`` the log's last event. Nothing is served until they are rebuilt."""

    position: int | None = None
    head: int | None = None
    store: str | None = None


@attrs.define(kw_only=True, slots=False)
class ChainMismatchError(ArledgerError, RuntimeError):
    """The log's hash chain does not match its events: events were removed, changed or added
    outside arledger (``position``: the first position concerned). Nothing was recorded;
    ``arledger verify`` reports every finding."""

    position: int | None = None


@attrs.define(kw_only=True, slots=False)
class GroupingTypeError(ArledgerError, TypeError):
    """A query's grouping given as something other than its enum (e.g. the text ``"owner"``
    where ``KpiGrouping.OWNER`` is expected): ``grouping`` is what was given, ``expected`` the
    enum's name. Nothing is guessed from text; a CLI or service parses it first."""

    grouping: object = None
    expected: str | None = None


@attrs.define(kw_only=True, slots=False)
class ImportRowError(ArledgerError, ValueError):
    """A row of an imported file is invalid; nothing of the file was recorded."""

    path: str | None = None
    problems: tuple[object, ...] | None = None
    problems_total: int | None = None


@attrs.define(kw_only=True, slots=False)
class ConfigurationError(ArledgerError, ValueError):
    """The store or policy configuration is invalid."""

    field: str | None = None
    store: str | None = None
    setting: str | None = None
    schema: str | None = None
    path: str | None = None
    preset: str | None = None
    read_models: str | None = None
    edges: object = None
    policy: object = None
    policy_version: int | None = None
    latest_version: int | None = None
    missing: object = None
    kind: object = None
    extra: object = None
    months: object = None
    grouping: object = None


@attrs.define(kw_only=True, slots=False)
class RejectsPathError(ConfigurationError):
    """The rejected rows of an import cannot go to that path (the store, the imported file, a
    directory, a file arledger did not write); ``path`` and ``conflict`` say which and why.
    Nothing was recorded."""

    conflict: object = None


@attrs.define(kw_only=True, slots=False)
class PlaintextOutputError(ConfigurationError):
    """A file of the ledger's data (an export, a rejects file) would be written in plaintext
    from a store whose events are encrypted (``CIPHER_TOPIC``/``CIPHER_KEY``), and the caller
    did not ask for plaintext (``plaintext=True``, ``--plaintext``). The cipher says the data
    is to stay encrypted at rest, so leaving a readable copy beside it is the caller's explicit
    choice, never a default; ``path`` names the file or folder. Nothing was written or
    recorded."""

    output: str | None = None
    """What would have been written: ``"export"`` or ``"rejects"``."""


# Letters --------------------------------------------------------------------------------------


@attrs.define(kw_only=True, slots=False)
class LetterTemplateError(ConfigurationError):
    """A letter's template cannot be used: missing from the company's folder and the package,
    not valid Jinja2, or naming a figure the letter does not have (``template``, and ``path``
    the company's folder). Nothing was written or recorded."""

    template: str | None = None


@attrs.define(kw_only=True, slots=False)
class LetterOutputError(ConfigurationError):
    """A letter cannot be written to that path: a suffix other than ``.pdf`` or ``.html``, a
    missing folder, a directory, or a file that exists (without ``overwrite``); ``path`` and
    ``conflict`` say which and why. Nothing was written or recorded."""

    conflict: object = None


# Audit packs ----------------------------------------------------------------------------------


@attrs.define(kw_only=True, slots=False)
class AuditPackError(ArledgerError, ValueError):
    """An audit pack that cannot be written to the folder given (a file, or a folder that is
    not empty: a pack is never mixed with other files nor written over an earlier one), or a
    folder that is not an audit pack arledger can check (no or unreadable ``manifest.json``).
    ``directory`` names the folder. Nothing was written."""

    directory: str | None = None
