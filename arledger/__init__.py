"""arledger: an event-sourced accounts-receivable ledger and collections core.

The public API, re-exported from the layers: the domain's values, events and errors, the
projections' read models (every query's named result type), the ``Ledger`` application that
records commands and answers queries, and ``to_data``, which turns any result into JSON-ready
data. Signatures are typed without ``Any`` (tests/packaging/test_public_types.py holds every
command, query and exported class to it).
"""

from arledger.adapters.application.ledger import Ledger, Result
from arledger.adapters.audit.pack import (
    AuditPack,
    AuditPackCheck,
    PackMismatch,
    check_audit_pack,
)
from arledger.adapters.audit.report import Finding, FindingKind, VerifyReport
from arledger.adapters.data_output import JsonData, to_data
from arledger.domain.customer import CustomerAccount
from arledger.domain.errors import (
    AccountCurrencyError,
    AllocationKeyConflictError,
    ArledgerError,
    AuditPackError,
    AutomaticAllocationRefusedError,
    ChainMismatchError,
    CommandFormatError,
    ConcurrencyError,
    ConfigurationError,
    CurrencyMismatchError,
    CustomerMismatchError,
    CustomerNotFoundError,
    DuplicateKeyConflictError,
    GroupingTypeError,
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
from arledger.domain.events import AllocationRule, Instalment, PaymentTermsKind, RiskRating
from arledger.domain.invoice import Invoice
from arledger.domain.money import Money
from arledger.domain.payment import Payment
from arledger.domain.policy import AgeingBasis, AgeingPolicy, EscalationPolicy, Grade, TriggerRule
from arledger.domain.trigger_rules import FigureUnit
from arledger.projections.ageing import AgeingGrouping, AgeingReport, AgeingRow
from arledger.projections.backtest import (
    Backtest,
    BacktestDifference,
    BacktestPeriod,
    BacktestPolicy,
    BacktestRow,
    BacktestStep,
    EscalatedCustomer,
)
from arledger.projections.credit import CreditDecision, CreditReason, CreditReasonKind
from arledger.projections.escalation import (
    EscalationStatus,
    Evaluation,
    InvoiceFigures,
    LevelChange,
    NextAction,
    Reason,
    Suspension,
    SuspensionKind,
    ThresholdCrossing,
    WorklistItem,
)
from arledger.projections.kpis import KpiGrouping, KpiReport, KpiRow
from arledger.projections.portfolio import Confirmation
from arledger.projections.promises import PromiseJudgement, PromiseRates, PromiseStatus
from arledger.projections.results import CaseReport, Explanation, PromiseReport, Worklist
from arledger.projections.statement import MovementKind, Statement, StatementLine
from arledger.projections.unapplied import (
    UnappliedCashReport,
    UnappliedCashRow,
    UnappliedPayment,
)

__all__ = [
    "AccountCurrencyError",
    "AgeingBasis",
    "AgeingGrouping",
    "AgeingPolicy",
    "AgeingReport",
    "AgeingRow",
    "AllocationKeyConflictError",
    "AllocationRule",
    "ArledgerError",
    "AuditPack",
    "AuditPackCheck",
    "AuditPackError",
    "AutomaticAllocationRefusedError",
    "Backtest",
    "BacktestDifference",
    "BacktestPeriod",
    "BacktestPolicy",
    "BacktestRow",
    "BacktestStep",
    "CaseReport",
    "ChainMismatchError",
    "CommandFormatError",
    "ConcurrencyError",
    "ConfigurationError",
    "Confirmation",
    "CreditDecision",
    "CreditReason",
    "CreditReasonKind",
    "CurrencyMismatchError",
    "CustomerAccount",
    "CustomerMismatchError",
    "CustomerNotFoundError",
    "DuplicateKeyConflictError",
    "EscalatedCustomer",
    "EscalationPolicy",
    "EscalationStatus",
    "Evaluation",
    "Explanation",
    "FigureUnit",
    "Finding",
    "FindingKind",
    "Grade",
    "GroupingTypeError",
    "IdempotencyKeyConflictError",
    "Instalment",
    "InvalidChoiceError",
    "InvalidCommandError",
    "Invoice",
    "InvoiceFigures",
    "InvoiceNotFoundError",
    "JsonData",
    "KpiGrouping",
    "KpiReport",
    "KpiRow",
    "Ledger",
    "LevelChange",
    "Money",
    "MoneyError",
    "MovementKind",
    "NextAction",
    "NotFoundError",
    "NothingToAllocateError",
    "OverAllocationError",
    "PackMismatch",
    "Payment",
    "PaymentNotFoundError",
    "PaymentTermsKind",
    "PromiseAmountError",
    "PromiseJudgement",
    "PromiseRates",
    "PromiseReport",
    "PromiseStatus",
    "ReadModelMismatchError",
    "Reason",
    "RepeatedInvoiceError",
    "Result",
    "RiskRating",
    "Statement",
    "StatementLine",
    "StoreBusyError",
    "StoreUnavailableError",
    "Suspension",
    "SuspensionKind",
    "ThresholdCrossing",
    "TriggerRule",
    "UnappliedCashReport",
    "UnappliedCashRow",
    "UnappliedPayment",
    "VerifyReport",
    "Worklist",
    "WorklistItem",
    "check_audit_pack",
    "to_data",
]
