"""``Ledger``: the public API, an eventsourcing Application over the pure domain.

Every command is a record (``arledger.domain.commands``); ``Ledger.execute`` runs one or more
in one transaction: each handler (``handlers``) loads the aggregates it needs into the unit of
work (``unit_of_work``), asks the domain to decide, and records the events; the unit of work
saves them all at once (``Application.save`` is atomic across aggregates). A version conflict
means another writer got there first: the commands are re-run from fresh state a bounded number
of times, then ``ConcurrencyError`` is raised. Nothing is recorded when the domain refuses. An
``idempotency_key`` makes a retried call answer the first result (``domain/idempotency.py``).
The typed methods (``issue_invoice``, ``make_promise``, ...) build a command and execute it.

``ledger.session()`` is a unit of work with a method per command (``session``): imports and the
demo decide many commands in one.
"""

from __future__ import annotations

import enum
import os
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import ClassVar, Final, TypeVar
from uuid import UUID

import attrs
from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, Mapper, Recording
from eventsourcing.utils import Environment

from arledger.adapters.application.command_json import content_digest
from arledger.adapters.application.handlers import handle
from arledger.adapters.application.session import Session as Session  # re-exported
from arledger.adapters.audit.cut import ChainLinks, Cut, aggregate_version_at
from arledger.adapters.audit.cut import microseconds as cut_microseconds
from arledger.adapters.audit.cut import resolve as resolve_cut
from arledger.adapters.audit.pack import AuditPack
from arledger.adapters.audit.report import VerifyReport
from arledger.adapters.data_output import to_data
from arledger.adapters.documents.render import Language
from arledger.adapters.documents.render import render as render_letter
from arledger.adapters.documents.sending import (
    LetterSent,
    check_output,
    letter_commands,
    write_aside,
)
from arledger.adapters.documents.sending import idempotency_key as letter_idempotency_key
from arledger.adapters.persistence.connections import Connections, connections_for
from arledger.adapters.persistence.library import chained_recorder_topic
from arledger.adapters.persistence.serialization import CattrsMapper, register_event_topics
from arledger.adapters.persistence.store import (
    busy_errors,
    configure_library_store,
    describe_store,
    prepare_sqlite_file,
    store_env,
    store_errors,
    table_creation_serialised,
)
from arledger.adapters.read_models.engine import QueryEngine
from arledger.adapters.read_models.runner import (
    STALE_RETRIES_MAX,
    ProjectionRunner,
    StaleRunnerError,
)
from arledger.adapters.report.model import PortfolioReport
from arledger.domain import commands as c
from arledger.domain import customer as customer_module
from arledger.domain import exchange_rate as exchange_rate_module
from arledger.domain import idempotency, ids
from arledger.domain import invoice as invoice_module
from arledger.domain import payment as payment_module
from arledger.domain import policy_book as policy_book_module
from arledger.domain.authority import AuthorityPolicy, ReductionKind
from arledger.domain.commands import Command
from arledger.domain.customer import DEFAULT_TERMS_DAYS, CustomerAccount
from arledger.domain.errors import (
    ConcurrencyError,
    ConfigurationError,
    CustomerNotFoundError,
    GroupingTypeError,
    IdempotencyKeyConflictError,
    InvalidChoiceError,
    InvalidCommandError,
    InvalidDateError,
    InvoiceNotFoundError,
    OwnerNotFoundError,
    PaymentNotFoundError,
    PlaintextOutputError,
)
from arledger.domain.events import (
    ActionChannel,
    AllocationRule,
    ContactRole,
    DelinquencyType,
    DisputeOutcome,
    DisputeReason,
    Event,
    Instalment,
    PaymentTermsKind,
    PromiseTranche,
    ReceiptMethod,
    ReconciliationResolution,
    RiskRating,
)
from arledger.domain.exchange_rate import ExchangeRate
from arledger.domain.goods_in_lieu import GoodsSettlement
from arledger.domain.idempotency import EventReference
from arledger.domain.invoice import Invoice
from arledger.domain.money import Money, require_money
from arledger.domain.payment import Payment
from arledger.domain.policy import AgeingPolicy, EscalationPolicy
from arledger.domain.rules import require_date, require_known_at, require_period
from arledger.domain.text import require_key, require_person
from arledger.projections import ageing, handover, reporting
from arledger.projections import letters as letters_projection
from arledger.projections import plans as plans_projection
from arledger.projections import reductions as reductions_projection
from arledger.projections import statement as statement_projection
from arledger.projections import unapplied as unapplied_projection
from arledger.projections.ageing import AgeingGrouping
from arledger.projections.backtest import BACKTEST_MIN_LEVEL, Backtest, BacktestStep
from arledger.projections.backtest import require_terms as require_backtest_terms
from arledger.projections.credit import CreditDecision
from arledger.projections.escalation import EscalationStatus
from arledger.projections.kpis import KpiGrouping, KpiReport, KpiSeries
from arledger.projections.letters import Letter, LetterKind
from arledger.projections.portfolio import Confirmation, PortfolioState
from arledger.projections.portfolio import ageing_report as portfolio_ageing_report
from arledger.projections.portfolio import fold_all as fold_portfolio
from arledger.projections.reductions import PendingApproval, ReductionsReport
from arledger.projections.results import (
    CaseReport,
    Explanation,
    PromiseReport,
    Worklist,
    case_report,
    promise_report,
)
from arledger.projections.statement import Statement
from arledger.projections.summary import BookSummary, book_summary
from arledger.projections.unapplied import UnappliedCashReport

T = TypeVar("T")

RETRIES_MAX: Final = 5
"""Re-runs of a command after a version conflict before giving up: conflicts on the same few
aggregates resolve within a couple of tries; more means a hot spot worth reporting."""

EVENTS_PER_READ_MAX: Final = 5000
"""Page size when reading the whole log: bounds memory per round trip."""

OWNERS_NAMED_MAX: Final = 20
"""Owners a refusal of an unknown owner lists (a ledger may have hundreds)."""

SUMMARY_KPI_MONTHS: Final = 3
"""The summary's DSO: of the 3 months ending on its date, as ``arledger kpis --as-of``."""

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The one place arledger reads the wall clock: recording instants, in UTC."""
    return datetime.now(UTC)


class LatestReading:
    """An injected clock (tests, replayed histories), remembering its latest reading: the
    commit instants' clock of the Ledger's store, so that stamps and commit instants share
    one time line. It is not read again at commit (a test's fixed clock moves on each
    reading): the latest reading stands for the commit instant (``chain.append`` keeps commit
    instants rising). A Ledger on the system clock commits at the wall clock's instant."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.latest: datetime | None = None
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        now = self.clock()
        with self._lock:
            if self.latest is None or now > self.latest:
                self.latest = now
        return now

    def commit_us(self) -> int:
        latest = self.latest if self.latest is not None else self()
        return cut_microseconds(latest)


@attrs.frozen(kw_only=True)
class Result:
    """What ``Ledger.execute`` did: the events each command answered with, and whether this
    call recorded anything (a service answers 201 when ``recorded``, else 200)."""

    recorded: bool
    """True: this call recorded new events. False: nothing new (every command was already
    done, or the idempotency key was used before with the same commands: this is the first
    call's answer)."""
    events_by_command: tuple[tuple[Event, ...], ...]
    """Per command, in order, the events it recorded (or, replayed, the first call's)."""

    @property
    def events(self) -> tuple[Event, ...]:
        """Every command's events, in order."""
        return tuple(event for events in self.events_by_command for event in events)

    def events_of(self, index: int) -> tuple[Event, ...]:
        """The events of the ``index``-th command."""
        return self.events_by_command[index]


def _references(events: Sequence[Event]) -> tuple[EventReference, ...]:
    return tuple(
        EventReference(
            originator_id=event.originator_id, originator_version=event.originator_version
        )
        for event in events
    )


class Ledger(Application[UUID]):
    """The receivables ledger. Store chosen by environment (see
    ``arledger.adapters.persistence.store``).

    ``env`` entries given to the constructor win over ``os.environ``.
    """

    name = "arledger"
    env: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        clock: Clock | None = None,
        retries_max: int = RETRIES_MAX,
        read_models: str | None = None,
        catch_up_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """``catch_up_progress``: called as ``catch_up_progress(done, total)`` while a query
        reads the events recorded since the query engine last caught up (the first query after
        a large import reads them all): events read so far, events to read. The ledger says
        nothing otherwise.

        ``read_models``: ``"stored"`` serves portfolio queries (ageing, worklist, KPIs) from
        the query engine's live columnar log and one customer's queries from a fold of that
        customer's events, read from the same log; ``"replay"`` folds the log on each query (the
        reference path). Default: ``ARLEDGER_READ_MODELS``, else stored for SQLite and
        PostgreSQL, replay in memory (where "stored" keeps the columnar log in memory only).
        """
        self.clock: Clock = system_clock if clock is None else LatestReading(clock)
        self.retries_max = retries_max
        self.catch_up_progress = catch_up_progress
        self.env_given: Final[Mapping[str, str]] = dict(env or {})
        """The settings given over the process environment: a second process opens the same
        store with them (``verify``'s worker)."""
        merged = dict(os.environ)
        if env:
            merged.update(env)
        self.store_settings = store_env(merged)
        self.in_memory = self.store_settings["PERSISTENCE_MODULE"].endswith("popo")
        self.read_models = (
            read_models
            or merged.get("ARLEDGER_READ_MODELS")
            or ("replay" if self.in_memory else "stored")
        )
        if self.read_models not in ("stored", "replay"):
            raise ConfigurationError(
                f"read_models={self.read_models!r}; expected 'stored' or 'replay'",
                read_models=self.read_models,
            )
        self._runner: ProjectionRunner | None = None
        self._engine: QueryEngine | None = None
        self._engine_lock = threading.Lock()
        self._connections: Connections | None = None
        self._links = ChainLinks()
        """The chain links read by queries' cuts (``_cut``)."""
        register_event_topics()
        # A store that cannot be opened raises StoreUnavailableError (what, where, what to
        # check), not the driver's error.
        with store_errors(self.store_settings):
            prepare_sqlite_file(self.store_settings)
            with table_creation_serialised(self.store_settings):
                super().__init__(env=self.store_settings)
        if isinstance(self.clock, LatestReading) and hasattr(self.recorder, "commit_clock"):
            self.recorder.commit_clock = self.clock.commit_us

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        """The library's environment, with the store settings ``store_env`` resolved winning.

        The library looks a key up with the application's name as a prefix first
        (``ARLEDGER_POSTGRES_SCHEMA`` before ``POSTGRES_SCHEMA``), and it merges ``os.environ``
        under the settings given: arledger's own ``ARLEDGER_POSTGRES_*`` variables in the
        process environment would otherwise win over what the constructor's ``env`` chose,
        and the library and the read models could use different schemas or timeouts.
        """
        environment = super().construct_env(name, env)
        for key in env or {}:
            environment.pop(f"{name.upper()}_{key}", None)
        return environment

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        """The library's factory, its PostgreSQL sessions given arledger's timeouts, its
        recorder the one writing the hash chain with the events (``persistence/chain.py``)."""
        topic = chained_recorder_topic(self.store_settings["PERSISTENCE_MODULE"])
        if topic is not None and not env.get("APPLICATION_RECORDER_TOPIC"):
            env["APPLICATION_RECORDER_TOPIC"] = topic
        factory = super().construct_factory(env)
        configure_library_store(factory, self.store_settings)
        return factory

    def read_model_connections(self) -> Connections | None:
        """The pool the runner and the query engine share (None in memory); see
        ``adapters/persistence/connections.py``."""
        with self._engine_lock:
            if self._connections is None and not self.in_memory:
                self._connections = connections_for(self.store_settings)
            return self._connections

    def projection_runner(self) -> ProjectionRunner:
        """The runner of the stored read models (SQLite and PostgreSQL stores), one per Ledger,
        shared by its threads."""
        connections = self.read_model_connections()
        with self._engine_lock:
            if self._runner is None:
                self._runner = ProjectionRunner(self, connections=connections)
            return self._runner

    def query_engine(self) -> QueryEngine:
        """The engine answering portfolio queries from the live columnar log (one per Ledger,
        shared by its threads)."""
        connections = self.read_model_connections()
        with self._engine_lock:
            if self._engine is None:
                self._engine = QueryEngine.for_ledger(
                    self, connections, progress=self.catch_up_progress
                )
            return self._engine

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: object,
    ) -> list[Recording[UUID]]:
        """The library's save; a lock or statement that outlasts its timeout raises
        ``StoreBusyError`` (rolled back: nothing recorded)."""
        with busy_errors(self.store_settings):
            return super().save(*objs, **kwargs)

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self._connections is not None:
            self._connections.close()
            self._connections = None
        super().close()

    # Audits -----------------------------------------------------------------------------------

    def verify(
        self, from_position: int | None = None, expect_head: str | None = None
    ) -> VerifyReport:
        """Check the stored log: its hash chain, decoding, every aggregate's replay and the
        stored read models against a fresh fold (``adapters/audit/verify.py``). Reads only.

        ``from_position`` resumes the chain and decoding checks there (replay and read models
        need a full pass); ``expect_head``: a chain link written down earlier, which must still
        be in the chain. Raises ``ConfigurationError`` on an in-memory store.
        """
        from arledger.adapters.audit.verify import Verifier

        if from_position is not None and from_position < 1:
            raise InvalidCommandError(
                f"from_position must be 1 or more, got {from_position}",
                field="from_position",
                value=from_position,
            )
        connections = self._audit_connections()
        with busy_errors(self.store_settings):
            return Verifier(self, connections).run(from_position, expect_head)

    def audit_pack(
        self,
        directory: Path,
        *,
        as_of: date,
        known_at: datetime | None = None,
        plaintext: bool = False,
    ) -> AuditPack:
        """Write an audit pack into ``directory`` (new or empty): the verify result, the log
        exported to Parquet up to the chain head verify reported, and the ageing, worklist,
        KPIs and statements as of ``as_of`` (as known at ``known_at``) computed from that
        export, with a manifest of hashes (``adapters/audit/pack.py``); ``check_audit_pack``
        re-runs every figure from the folder alone.

        Raises:
            AuditPackError: ``directory`` is a file or not empty (nothing written).
            PlaintextOutputError: encrypted store, ``plaintext`` False (as an export).
            ConfigurationError: an in-memory store (no chain to verify).
        """
        from arledger.adapters.audit import pack

        require_date("as_of", as_of)
        require_known_at(known_at)
        pack.pack_target(directory)  # refused before any work
        self.check_plaintext_output(directory, output="audit pack", plaintext=plaintext)
        head_before = self.recorder.max_notification_id() or 0
        report = self.verify()
        # The chain head verify reported, which every event up to it is committed under; a
        # store without a chain (a finding of the report) is packed as it stood before.
        position = report.head_position if report.head_link else head_before
        stamped_by = None
        if known_at is not None:  # the log as committed by then (commit order, as queries cut)
            cut = self._cut(known_at, None)
            position, stamped_by = min(position, cut.position), cut.stamped_by
        pack.require_decodable(directory, report)
        return pack.write_pack(
            directory,
            as_of=as_of,
            known_at=known_at,
            stamped_by=stamped_by,
            verify=report,
            events=self._events_in_pages(EVENTS_PER_READ_MAX, position),
            log_position=position,
            as_of_log=to_data(self._cut(None, position).as_of_log),
            store=self.store_description,
            created_at=self.clock(),
        )

    def build_chain(self) -> int:
        """Build, once, the hash chain of a store written before chains existed; returns the
        links written. Refused (``ChainMismatchError``) when the store has a chain."""
        from arledger.adapters.audit.verify import build_chain

        connections = self._audit_connections()
        # Links read before (a chain deleted by hand, to be built again) are not kept.
        self._links.clear()
        with busy_errors(self.store_settings):
            return build_chain(self, connections)

    def _audit_connections(self) -> Connections:
        connections = self.read_model_connections()
        if connections is None:
            raise ConfigurationError(
                "an in-memory store has no hash chain to verify: audits need SQLite or PostgreSQL",
                store=self.store_settings["PERSISTENCE_MODULE"],
            )
        return connections

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=CattrsMapper
        )

    @property
    def store_description(self) -> str:
        return describe_store(self.store_settings)

    @property
    def encrypted(self) -> bool:
        """Whether the store encrypts what it records (the library's cipher, ``CIPHER_TOPIC``
        and ``CIPHER_KEY``); the read models and the columnar segments are then encrypted with
        the same cipher."""
        return self.mapper.cipher is not None

    def check_plaintext_output(self, path: Path, *, output: str, plaintext: bool) -> None:
        """Refuse to write the ledger's data in plaintext to ``path`` (an ``output`` such as an
        export or a rejects file) when the store is encrypted, unless ``plaintext`` says the
        caller wants a readable copy. Called before any work, so a refusal writes nothing.

        Files are not encrypted with the store's cipher instead: an export or a rejects file
        is made to be read by other tools (Parquet readers, spreadsheets), which hold no key.

        Raises:
            PlaintextOutputError: encrypted store, ``plaintext`` False.
        """
        if self.encrypted and not plaintext:
            raise PlaintextOutputError(
                f"{self.store_description} is encrypted (CIPHER_TOPIC/CIPHER_KEY) and the "
                f"{output} {path} would hold its data in plaintext: ask for plaintext "
                "(--plaintext) to write it anyway; nothing was written",
                path=str(path),
                output=output,
                setting="CIPHER_KEY",
            )

    # Units of work ----------------------------------------------------------------------------

    def session(self) -> Session:
        """A unit of work; call ``commit()`` to save its events in one transaction."""
        return Session(self)

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a fresh session and commit; retry on version conflicts."""
        for _attempt in range(self.retries_max):
            session = self.session()
            result = work(session)
            try:
                session.commit()
            except IntegrityError:
                continue
            return result
        raise ConcurrencyError(
            f"gave up after {self.retries_max} attempts: other writers kept changing the same "
            "aggregates",
            attempts=self.retries_max,
        )

    def execute(self, *commands: Command, idempotency_key: str | None = None) -> Result:
        """Run the commands, in order, in one transaction (retried on version conflicts).

        If one is refused, nothing of any is recorded and its error is raised. With an
        ``idempotency_key`` (the client's), a call repeating an earlier one (same key, same
        commands field for field) records nothing and returns the first call's events with
        ``recorded`` False; the key with other commands raises ``IdempotencyKeyConflictError``.
        The key is saved with the commands' events, in the same transaction.
        """
        if not commands:
            raise InvalidCommandError("execute needs at least one command", commands=0)
        digest = None
        if idempotency_key is not None:
            require_key("idempotency_key", idempotency_key)
            digest = content_digest(commands)

        def work(session: Session) -> Result:
            if idempotency_key is not None and digest is not None:
                accepted = session.idempotency_record(idempotency_key)
                if idempotency.replayed(
                    accepted, idempotency_key=idempotency_key, content_sha256=digest
                ):
                    assert accepted is not None
                    return Result(
                        recorded=False,
                        events_by_command=tuple(
                            tuple(session.events_at(result)) for result in accepted.results
                        ),
                    )
            results = tuple(tuple(handle(command, session)) for command in commands)
            recorded = bool(session.pending)
            if idempotency_key is not None and digest is not None:
                session.accept(
                    idempotency.accept(
                        idempotency_key=idempotency_key,
                        content_sha256=digest,
                        results=[_references(result) for result in results],
                        recorded=recorded,
                        recorded_at=session.recorded_at,
                    )
                )
            return Result(recorded=recorded, events_by_command=results)

        return self.run(work)

    # Commands: each builds its command and executes it in one transaction ---------------------

    def _events(self, command: Command, idempotency_key: str | None) -> list[Event]:
        """Execute one command; its events (or, for a repeated key, the first call's)."""
        return list(self.execute(command, idempotency_key=idempotency_key).events_of(0))

    def open_account(
        self,
        customer_code: str,
        *,
        name: str,
        currency: str,
        collection_owner: str,
        opened_on: date,
        terms_kind: PaymentTermsKind = PaymentTermsKind.NET,
        terms_days: int = DEFAULT_TERMS_DAYS,
        idempotency_key: str | None = None,
    ) -> UUID:
        """Open a customer account: one currency, one collection owner, payment terms.
        (``OpenAccount``)
        """
        self.execute(
            c.OpenAccount(
                customer_code=customer_code,
                name=name,
                currency=currency,
                collection_owner=collection_owner,
                opened_on=opened_on,
                terms_kind=terms_kind,
                terms_days=terms_days,
            ),
            idempotency_key=idempotency_key,
        )
        return ids.customer_id(customer_code)

    def issue_invoice(
        self,
        invoice_number: str,
        *,
        customer_code: str,
        amount: Money,
        issued_on: date,
        due_on: date | None = None,
        instalments: Sequence[Instalment] = (),
        contract_reference: str = "",
        interest: Money | None = None,
        fees: Money | None = None,
        idempotency_key: str | None = None,
    ) -> UUID:
        """Issue an invoice to a customer; without ``due_on`` the due date comes from the
        terms. ``interest`` and ``fees``: the parts of ``amount`` that are interest and fees
        (the rest is principal), for the component-order allocation rule. (``IssueInvoice``)
        """
        self.execute(
            c.IssueInvoice(
                invoice_number=invoice_number,
                customer_code=customer_code,
                amount=amount,
                issued_on=issued_on,
                due_on=due_on,
                instalments=instalments,
                contract_reference=contract_reference,
                interest=interest,
                fees=fees,
            ),
            idempotency_key=idempotency_key,
        )
        return ids.invoice_id(invoice_number)

    def receive_payment(
        self,
        bank_reference: str,
        *,
        payer_code: str,
        amount: Money,
        value_on: date,
        method: ReceiptMethod = ReceiptMethod.BANK_TRANSFER,
        received_by: str | None = None,
        idempotency_key: str | None = None,
    ) -> UUID:
        """Record money received from a payer, not yet allocated to invoices: by bank transfer,
        or collected in person (``method`` cash or cheque) by ``received_by``.
        (``ReceivePayment``)
        """
        self.execute(
            c.ReceivePayment(
                bank_reference=bank_reference,
                payer_code=payer_code,
                amount=amount,
                value_on=value_on,
                method=method,
                received_by=received_by,
            ),
            idempotency_key=idempotency_key,
        )
        return ids.payment_id(bank_reference)

    def hand_over_cash(
        self,
        bank_reference: str,
        *,
        handed_on: date,
        received_by_finance: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Record that cash or a cheque collected in person was handed to finance on
        ``handed_on``. (``HandOverCash``)"""
        return self._events(
            c.HandOverCash(
                bank_reference=bank_reference,
                handed_on=handed_on,
                received_by_finance=received_by_finance,
            ),
            idempotency_key,
        )

    def allocate_payment(
        self,
        bank_reference: str,
        allocations: Mapping[str, Money] | None = None,
        *,
        allocated_on: date | None = None,
        allocation_key: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Allocate a payment: to the listed invoices, or (``allocations`` None) to the payer's
        open invoices by the payer's allocation rule in force on the payment's value date (oldest
        due date first unless one was adopted). ``allocation_key`` (the client's,
        unique per payment) makes a retry record nothing and answer the first
        allocation's events. (``AllocatePayment``)
        """
        return self._events(
            c.AllocatePayment(
                bank_reference=bank_reference,
                allocations=allocations,
                allocated_on=allocated_on,
                allocation_key=allocation_key,
            ),
            idempotency_key,
        )

    def reverse_payment(
        self,
        bank_reference: str,
        *,
        reversed_on: date,
        reason: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Reverse a payment (returned by the bank): what it settled is open again.
        (``ReversePayment``)
        """
        return self._events(
            c.ReversePayment(bank_reference=bank_reference, reversed_on=reversed_on, reason=reason),
            idempotency_key,
        )

    def apply_credit_note(
        self,
        invoice_number: str,
        *,
        credit_note_number: str,
        amount: Money,
        applied_on: date,
        reason: str,
        approver: str,
        second_approver: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Credit an invoice; a credit-note number credits one invoice, once; approved within
        the authority policy in force on ``applied_on``. (``ApplyCreditNote``)
        """
        return self._events(
            c.ApplyCreditNote(
                invoice_number=invoice_number,
                credit_note_number=credit_note_number,
                amount=amount,
                applied_on=applied_on,
                reason=reason,
                approver=approver,
                second_approver=second_approver,
            ),
            idempotency_key,
        )

    def approve_concession(
        self,
        invoice_number: str,
        *,
        amount: Money,
        approved_on: date,
        reason: str,
        approver: str,
        second_approver: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Approve a concession (a discount agreed after issue) on an invoice.
        (``ApproveConcession``)
        """
        return self._events(
            c.ApproveConcession(
                invoice_number=invoice_number,
                amount=amount,
                approved_on=approved_on,
                reason=reason,
                approver=approver,
                second_approver=second_approver,
            ),
            idempotency_key,
        )

    def override_due_date(
        self,
        invoice_number: str,
        *,
        due_on: date,
        overridden_on: date,
        reason: str,
        approver: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Move an invoice's due date by hand (approved, with a reason): from
        ``overridden_on`` on it ages, escalates and is reminded from ``due_on``.
        (``OverrideDueDate``)"""
        return self._events(
            c.OverrideDueDate(
                invoice_number=invoice_number,
                due_on=due_on,
                overridden_on=overridden_on,
                reason=reason,
                approver=approver,
            ),
            idempotency_key,
        )

    def write_off(
        self,
        invoice_number: str,
        *,
        written_off_on: date,
        reason: str,
        approver: str,
        second_approver: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Book what is open on an invoice as a bad debt. (``WriteOff``)"""
        return self._events(
            c.WriteOff(
                invoice_number=invoice_number,
                written_off_on=written_off_on,
                reason=reason,
                approver=approver,
                second_approver=second_approver,
            ),
            idempotency_key,
        )

    def reinstate(
        self,
        invoice_number: str,
        *,
        reinstated_on: date,
        reason: str,
        approver: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Undo an invoice's write-off. (``Reinstate``)"""
        return self._events(
            c.Reinstate(
                invoice_number=invoice_number,
                reinstated_on=reinstated_on,
                reason=reason,
                approver=approver,
            ),
            idempotency_key,
        )

    def set_credit_line(
        self,
        *,
        customer_code: str,
        amount: Money,
        effective_on: date,
        approver: str,
        reason: str,
        registered_capital: Money | None = None,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Set the customer's credit line from ``effective_on``. (``SetCreditLine``)"""
        return self._events(
            c.SetCreditLine(
                customer_code=customer_code,
                amount=amount,
                effective_on=effective_on,
                approver=approver,
                reason=reason,
                registered_capital=registered_capital,
            ),
            idempotency_key,
        )

    def rate_risk(
        self,
        *,
        customer_code: str,
        rating: RiskRating,
        rated_on: date,
        reason: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Rate the customer's credit risk. (``RateRisk``)"""
        return self._events(
            c.RateRisk(
                customer_code=customer_code, rating=rating, rated_on=rated_on, reason=reason
            ),
            idempotency_key,
        )

    def blacklist(
        self,
        *,
        customer_code: str,
        blacklisted_on: date,
        reason: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Put the customer on the blacklist. (``Blacklist``)"""
        return self._events(
            c.Blacklist(customer_code=customer_code, blacklisted_on=blacklisted_on, reason=reason),
            idempotency_key,
        )

    def clear_blacklist(
        self,
        *,
        customer_code: str,
        cleared_on: date,
        reason: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Take the customer off the blacklist. (``ClearBlacklist``)"""
        return self._events(
            c.ClearBlacklist(customer_code=customer_code, cleared_on=cleared_on, reason=reason),
            idempotency_key,
        )

    def file_bankruptcy(
        self,
        *,
        customer_code: str,
        filed_on: date,
        reason: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Record that the customer's bankruptcy was filed: from ``filed_on`` the policy's
        ``bankruptcy_filed`` effect applies (by default the top level, supply held, the claim
        filed as the only action). (``FileBankruptcy``)"""
        return self._events(
            c.FileBankruptcy(customer_code=customer_code, filed_on=filed_on, reason=reason),
            idempotency_key,
        )

    def suspect_fraud(
        self,
        *,
        customer_code: str,
        suspected_on: date,
        reason: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Record that fraud is suspected of the customer: from ``suspected_on`` the policy's
        ``fraud_suspected`` effect applies (by default the top level at once, supply held).
        (``SuspectFraud``)"""
        return self._events(
            c.SuspectFraud(customer_code=customer_code, suspected_on=suspected_on, reason=reason),
            idempotency_key,
        )

    def change_terms(
        self,
        *,
        customer_code: str,
        terms_kind: PaymentTermsKind,
        terms_days: int,
        changed_on: date,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Change the payment terms of the customer's future invoices. (``ChangeTerms``)"""
        return self._events(
            c.ChangeTerms(
                customer_code=customer_code,
                terms_kind=terms_kind,
                terms_days=terms_days,
                changed_on=changed_on,
            ),
            idempotency_key,
        )

    def set_payment_calendar(
        self,
        *,
        customer_code: str,
        book_closing_day: int | None,
        payment_run_days: Sequence[int],
        set_on: date,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Set the customer's book-closing day and payment-run days (days of the month), in
        force from ``set_on``: invoices due before it keep the calendar they had (see
        ``expected_pay_on``). (``SetPaymentCalendar``)
        """
        return self._events(
            c.SetPaymentCalendar(
                customer_code=customer_code,
                book_closing_day=book_closing_day,
                payment_run_days=payment_run_days,
                set_on=set_on,
            ),
            idempotency_key,
        )

    def change_owner(
        self,
        *,
        customer_code: str,
        collection_owner: str,
        changed_on: date,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Hand the account to another collection owner. (``ChangeOwner``)"""
        return self._events(
            c.ChangeOwner(
                customer_code=customer_code,
                collection_owner=collection_owner,
                changed_on=changed_on,
            ),
            idempotency_key,
        )

    def set_collection_target(
        self,
        *,
        customer_code: str,
        month_on: date,
        target: Money,
        set_by: str,
        set_on: date,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Set the customer's collection plan target [追款计划] for the month starting
        ``month_on`` (its first day), in the account's currency; a zero target takes it
        back. (``SetCollectionTarget``)"""
        return self._events(
            c.SetCollectionTarget(
                customer_code=customer_code,
                month_on=month_on,
                target=target,
                set_by=set_by,
                set_on=set_on,
                note=note,
            ),
            idempotency_key,
        )

    def set_key_contact(
        self,
        *,
        customer_code: str,
        role: ContactRole,
        name: str,
        set_on: date,
        phone: str = "",
        email: str = "",
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Name the customer's contact for a role. (``SetKeyContact``)"""
        return self._events(
            c.SetKeyContact(
                customer_code=customer_code,
                role=role,
                name=name,
                set_on=set_on,
                phone=phone,
                email=email,
            ),
            idempotency_key,
        )

    def hold_supply(
        self,
        *,
        customer_code: str,
        held_on: date,
        reason: str,
        by_policy: bool = False,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Stop supplying the customer (``by_policy``: because the escalation policy says so).
        (``HoldSupply``)
        """
        return self._events(
            c.HoldSupply(
                customer_code=customer_code, held_on=held_on, reason=reason, by_policy=by_policy
            ),
            idempotency_key,
        )

    def release_supply(
        self,
        *,
        customer_code: str,
        released_on: date,
        reason: str,
        by_policy: bool = False,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Supply the customer again. (``ReleaseSupply``)"""
        return self._events(
            c.ReleaseSupply(
                customer_code=customer_code,
                released_on=released_on,
                reason=reason,
                by_policy=by_policy,
            ),
            idempotency_key,
        )

    def send_balance_confirmation(
        self,
        *,
        customer_code: str,
        confirmation_reference: str,
        balance_as_of: date,
        sent_on: date,
        statement_from_on: date | None = None,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Send the customer its statement of account for ``statement_from_on``..
        ``balance_as_of`` (default: from the account's opening) to confirm its closing balance.
        (``SendBalanceConfirmation``)
        """
        return self._events(
            c.SendBalanceConfirmation(
                customer_code=customer_code,
                confirmation_reference=confirmation_reference,
                balance_as_of=balance_as_of,
                sent_on=sent_on,
                statement_from_on=statement_from_on,
            ),
            idempotency_key,
        )

    def acknowledge_balance_confirmation(
        self,
        *,
        customer_code: str,
        confirmation_reference: str,
        confirmed_balance: Money,
        acknowledged_on: date,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Record the balance the customer confirmed (a difference is flagged, not corrected).
        (``AcknowledgeBalanceConfirmation``)
        """
        return self._events(
            c.AcknowledgeBalanceConfirmation(
                customer_code=customer_code,
                confirmation_reference=confirmation_reference,
                confirmed_balance=confirmed_balance,
                acknowledged_on=acknowledged_on,
            ),
            idempotency_key,
        )

    def resolve_reconciliation(
        self,
        *,
        customer_code: str,
        confirmation_reference: str,
        resolution: ReconciliationResolution,
        reference: str,
        resolved_on: date,
        note: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Close the reconciliation item a confirmation's difference opened, with the credit
        note, payment (bank reference) or dispute of the customer that explains it.
        (``ResolveReconciliation``)
        """
        return self._events(
            c.ResolveReconciliation(
                customer_code=customer_code,
                confirmation_reference=confirmation_reference,
                resolution=resolution,
                reference=reference,
                resolved_on=resolved_on,
                note=note,
            ),
            idempotency_key,
        )

    def accept_reconciliation(
        self,
        *,
        customer_code: str,
        confirmation_reference: str,
        approver: str,
        accepted_on: date,
        reason: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Close the reconciliation item a confirmation's difference opened by accepting the
        difference, on an approver's authority. (``AcceptReconciliation``)
        """
        return self._events(
            c.AcceptReconciliation(
                customer_code=customer_code,
                confirmation_reference=confirmation_reference,
                approver=approver,
                accepted_on=accepted_on,
                reason=reason,
            ),
            idempotency_key,
        )

    def adopt_allocation_rule(
        self,
        *,
        customer_code: str,
        rule: AllocationRule,
        effective_on: date,
        approver: str,
        reason: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Adopt the rule automatic allocation follows for the customer's payments with a value
        date from ``effective_on`` (oldest due first, oldest issued first, proportional, or
        explicit only: unallocated cash waits for an allocation naming the invoices).
        (``AdoptAllocationRule``)
        """
        return self._events(
            c.AdoptAllocationRule(
                customer_code=customer_code,
                rule=rule,
                effective_on=effective_on,
                approver=approver,
                reason=reason,
            ),
            idempotency_key,
        )

    def open_dispute(
        self,
        *,
        invoice_number: str,
        dispute_reference: str,
        amount: Money,
        reason_code: DisputeReason,
        root_cause: str,
        opened_on: date,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Open a dispute over part of an invoice: the disputed amount is not chased.
        (``OpenDispute``)
        """
        return self._events(
            c.OpenDispute(
                invoice_number=invoice_number,
                dispute_reference=dispute_reference,
                amount=amount,
                reason_code=reason_code,
                root_cause=root_cause,
                opened_on=opened_on,
            ),
            idempotency_key,
        )

    def resolve_dispute(
        self,
        *,
        invoice_number: str,
        dispute_reference: str,
        outcome: DisputeOutcome,
        resolved_on: date,
        note: str,
        upheld: Money | None = None,
        credit_note_number: str | None = None,
        approver: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Resolve a dispute; an upheld one credits the invoice (``upheld``, default all of it)
        with a credit note numbered ``credit_note_number`` (default from the dispute), approved
        by ``approver`` (required when upheld). (``ResolveDispute``)
        """
        return self._events(
            c.ResolveDispute(
                invoice_number=invoice_number,
                dispute_reference=dispute_reference,
                outcome=outcome,
                resolved_on=resolved_on,
                note=note,
                upheld=upheld,
                credit_note_number=credit_note_number,
                approver=approver,
            ),
            idempotency_key,
        )

    def make_promise(
        self,
        *,
        customer_code: str,
        promise_reference: str,
        amount: Money,
        promised_on: date,
        made_on: date,
        contact: str,
        invoice_numbers: Sequence[str] = (),
        supersedes: str | None = None,
        tranches: Sequence[PromiseTranche] = (),
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Record a promise to pay ``amount`` by ``promised_on`` (for the named invoices, or
        the account), possibly replacing an earlier promise (``supersedes``, its
        reference); in ``tranches`` (dated parts in minor units, adding up to ``amount``, the
        last on ``promised_on``), each judged on its own. (``MakePromise``)
        """
        return self._events(
            c.MakePromise(
                customer_code=customer_code,
                promise_reference=promise_reference,
                amount=amount,
                promised_on=promised_on,
                made_on=made_on,
                contact=contact,
                invoice_numbers=invoice_numbers,
                supersedes=supersedes,
                tranches=tuple(tranches),
            ),
            idempotency_key,
        )

    def withdraw_promise(
        self,
        *,
        promise_reference: str,
        withdrawn_on: date,
        reason: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Withdraw an open promise to pay. (``WithdrawPromise``)"""
        return self._events(
            c.WithdrawPromise(
                promise_reference=promise_reference, withdrawn_on=withdrawn_on, reason=reason
            ),
            idempotency_key,
        )

    def record_action(
        self,
        *,
        customer_code: str,
        channel: ActionChannel,
        taken_on: date,
        collector: str,
        contact: str,
        outcome: str,
        next_step: str = "",
        next_step_on: date | None = None,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Record a collection action (a call, a letter, ...) and the next step agreed.
        (``RecordAction``)
        """
        return self._events(
            c.RecordAction(
                customer_code=customer_code,
                channel=channel,
                taken_on=taken_on,
                collector=collector,
                contact=contact,
                outcome=outcome,
                next_step=next_step,
                next_step_on=next_step_on,
            ),
            idempotency_key,
        )

    def diagnose(
        self,
        *,
        customer_code: str,
        delinquency_type: DelinquencyType,
        diagnosed_on: date,
        note: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Record why the customer is late (the delinquency type). (``Diagnose``)"""
        return self._events(
            c.Diagnose(
                customer_code=customer_code,
                delinquency_type=delinquency_type,
                diagnosed_on=diagnosed_on,
                note=note,
            ),
            idempotency_key,
        )

    def waive_negotiation(
        self,
        *,
        customer_code: str,
        waived_on: date,
        approver: str,
        reason: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Let the actions of a level that waits for a negotiation go ahead without one.
        (``WaiveNegotiation``)"""
        return self._events(
            c.WaiveNegotiation(
                customer_code=customer_code, waived_on=waived_on, approver=approver, reason=reason
            ),
            idempotency_key,
        )

    def adopt_policy(
        self,
        *,
        policy: EscalationPolicy,
        effective_on: date,
        approver: str,
        reason: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Adopt a version of the escalation policy from ``effective_on``. (``AdoptPolicy``)"""
        return self._events(
            c.AdoptPolicy(
                policy=policy, effective_on=effective_on, approver=approver, reason=reason
            ),
            idempotency_key,
        )

    def adopt_authority_policy(
        self,
        *,
        policy: AuthorityPolicy,
        effective_on: date,
        approver: str,
        reason: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Adopt a version of the authority policy (approver roles and limits) from
        ``effective_on``. (``AdoptAuthorityPolicy``)"""
        return self._events(
            c.AdoptAuthorityPolicy(
                policy=policy, effective_on=effective_on, approver=approver, reason=reason
            ),
            idempotency_key,
        )

    def request_reduction(
        self,
        request_reference: str,
        *,
        kind: ReductionKind,
        invoice_number: str,
        reduce_on: date,
        reason: str,
        requested_by: str,
        requested_on: date,
        amount: Money | None = None,
        credit_note_number: str | None = None,
        due_on: date | None = None,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Ask for a credit note, concession, write-off or due-date override (``due_on``, the
        new due date), applied when approved. (``RequestReduction``)"""
        return self._events(
            c.RequestReduction(
                request_reference=request_reference,
                kind=kind,
                invoice_number=invoice_number,
                reduce_on=reduce_on,
                reason=reason,
                requested_by=requested_by,
                requested_on=requested_on,
                amount=amount,
                credit_note_number=credit_note_number,
                due_on=due_on,
            ),
            idempotency_key,
        )

    def approve_reduction(
        self,
        request_reference: str,
        *,
        approver: str,
        approved_on: date,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Approve a requested reduction; the approval that completes what the authority
        policy asks for applies it. (``ApproveReduction``)"""
        return self._events(
            c.ApproveReduction(
                request_reference=request_reference, approver=approver, approved_on=approved_on
            ),
            idempotency_key,
        )

    def reject_reduction(
        self,
        request_reference: str,
        *,
        rejected_by: str,
        rejected_on: date,
        reason: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Refuse a requested reduction. (``RejectReduction``)"""
        return self._events(
            c.RejectReduction(
                request_reference=request_reference,
                rejected_by=rejected_by,
                rejected_on=rejected_on,
                reason=reason,
            ),
            idempotency_key,
        )

    def record_exchange_rate(
        self,
        *,
        from_currency: str,
        to_currency: str,
        rate: Decimal,
        effective_on: date,
        source: str,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Record that one ``from_currency`` is worth ``rate`` ``to_currency`` from
        ``effective_on``, as ``source`` gave it. (``RecordExchangeRate``)"""
        return self._events(
            c.RecordExchangeRate(
                from_currency=from_currency,
                to_currency=to_currency,
                rate=rate,
                effective_on=effective_on,
                source=source,
            ),
            idempotency_key,
        )

    def propose_goods_in_lieu(
        self,
        *,
        customer_code: str,
        settlement_reference: str,
        goods: str,
        quantity: int,
        unit: str,
        appraised: Money,
        appraiser: str,
        proposed_on: date,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Record a customer's offer of goods in lieu of money, appraised by a named appraiser;
        it is valued at once with the haircut of the policy in force on ``proposed_on``.
        (``ProposeGoodsInLieu``)
        """
        return self._events(
            c.ProposeGoodsInLieu(
                customer_code=customer_code,
                settlement_reference=settlement_reference,
                goods=goods,
                quantity=quantity,
                unit=unit,
                appraised=appraised,
                appraiser=appraiser,
                proposed_on=proposed_on,
            ),
            idempotency_key,
        )

    def approve_goods_in_lieu(
        self,
        *,
        customer_code: str,
        settlement_reference: str,
        approver: str,
        reason: str,
        approved_on: date,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """Approve a proposed settlement in goods at its valued amount (within the approver's
        authority), with a reason. (``ApproveGoodsInLieu``)
        """
        return self._events(
            c.ApproveGoodsInLieu(
                customer_code=customer_code,
                settlement_reference=settlement_reference,
                approver=approver,
                reason=reason,
                approved_on=approved_on,
            ),
            idempotency_key,
        )

    def settle_goods_in_lieu(
        self,
        *,
        customer_code: str,
        settlement_reference: str,
        allocations: Mapping[str, Money],
        settled_on: date,
        idempotency_key: str | None = None,
    ) -> list[Event]:
        """The goods are received: the approved value settles the listed invoices (invoice
        number -> amount) of the customer, exactly; what the goods do not cover stays open, or
        is conceded explicitly. (``SettleGoodsInLieu``)
        """
        return self._events(
            c.SettleGoodsInLieu(
                customer_code=customer_code,
                settlement_reference=settlement_reference,
                allocations=allocations,
                settled_on=settled_on,
            ),
            idempotency_key,
        )

    def goods_settlements(
        self,
        customer_code: str,
        *,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> tuple[GoodsSettlement, ...]:
        """The customer's settlements in goods, proposed, approved or settled, by reference (as
        committed by ``known_at``, or at ``at_position``, if given)."""
        account = self.customer(customer_code, known_at=known_at, at_position=at_position)
        return tuple(
            account.goods_settlements[reference] for reference in sorted(account.goods_settlements)
        )

    # Queries ----------------------------------------------------------------------------------
    #
    # Every query answers as of one position of the log (``adapters/audit/cut.py``): the last
    # committed when it is asked, ``at_position``, or the last committed by ``known_at``; its
    # result carries that position, the chain link there and its commit instant (``AsOfLog``).

    def _cut(self, known_at: datetime | None, at_position: int | None) -> Cut:
        """The position a query answers at (read before the query reads any event)."""
        head = self.recorder.max_notification_id() or 0
        connections = self.read_model_connections()
        with busy_errors(self.store_settings):
            return resolve_cut(head, connections, known_at, at_position, self._links)

    def customer(
        self,
        customer_code: str,
        *,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> CustomerAccount:
        """The customer's account (as committed by ``known_at``, or at ``at_position``, if
        given: the cut every query makes)."""
        if known_at is None and at_position is None:
            return self.session().require_customer(customer_code)
        customer_id = ids.customer_id(require_key("customer_code", customer_code))
        return self._folded_at(
            customer_module.fold,
            customer_id,
            known_at,
            at_position,
            lambda named: CustomerNotFoundError(
                f"no customer account {customer_code!r}{named}", customer_code=customer_code
            ),
        )

    def invoice(
        self,
        invoice_number: str,
        *,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> Invoice:
        """The invoice (as committed by ``known_at``, or at ``at_position``, if given)."""
        if known_at is None and at_position is None:
            return self.session().require_invoice(invoice_number)
        invoice_id = ids.invoice_id(require_key("invoice_number", invoice_number))
        return self._folded_at(
            invoice_module.fold,
            invoice_id,
            known_at,
            at_position,
            lambda named: InvoiceNotFoundError(
                f"no invoice {invoice_number!r}{named}", invoice_number=invoice_number
            ),
        )

    def payment(
        self,
        bank_reference: str,
        *,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> Payment:
        """The payment (as committed by ``known_at``, or at ``at_position``, if given)."""
        if known_at is None and at_position is None:
            return self.session().require_payment(bank_reference)
        payment_id = ids.payment_id(require_key("bank_reference", bank_reference))
        return self._folded_at(
            payment_module.fold,
            payment_id,
            known_at,
            at_position,
            lambda named: PaymentNotFoundError(
                f"no payment with bank reference {bank_reference!r}{named}",
                bank_reference=bank_reference,
            ),
        )

    def _folded_at(
        self,
        fold: Callable[[list[Event]], T | None],
        aggregate_id: UUID,
        known_at: datetime | None,
        at_position: int | None,
        missing: Callable[[str], Exception],
    ) -> T:
        """One aggregate folded at the cut of ``known_at``/``at_position`` (only its own events
        read); ``missing(cut.named)`` is raised when it did not exist there."""
        cut = self._cut(known_at, at_position)
        state = fold(self._aggregate_events(aggregate_id, cut))
        if state is None:
            raise missing(cut.named)
        return state

    def _aggregate_events(self, aggregate_id: UUID, cut: Cut | None) -> list[Event]:
        """One aggregate's events at ``cut`` (all of them without one): those at or below its
        position, read up to the aggregate's version there (no other aggregate is read), and
        stamped by its fallback instant if it has one (``adapters/audit/cut.py``)."""
        connections = None if cut is None else self.read_model_connections()
        stored: Iterable[DomainEventProtocol[UUID]]
        if cut is None or connections is None:
            stored = self.events.get(aggregate_id)
        else:
            version = aggregate_version_at(connections, self.recorder, aggregate_id, cut.position)
            stored = [] if version is None else self.events.get(aggregate_id, lte=version)
        stamped_by = None if cut is None else cut.stamped_by
        return [
            event
            for event in stored
            if isinstance(event, Event) and (stamped_by is None or event.timestamp <= stamped_by)
        ]

    def iter_events(
        self,
        *,
        page_size: int = EVENTS_PER_READ_MAX,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> Iterator[Event]:
        """Every event in recording order, read in pages, up to the position the query answers
        at (the last committed by ``known_at``, or ``at_position``, if given; a bad cut is
        refused here, not at the first ``next``)."""
        if known_at is None and at_position is None:
            return self._events_in_pages(page_size)
        return self._events_cut(self._cut(known_at, at_position), page_size)

    def _events_cut(self, cut: Cut, page_size: int = EVENTS_PER_READ_MAX) -> Iterator[Event]:
        """The events of ``cut``: those at or below its position (stamped by its fallback
        instant, if it has one)."""
        events = self._events_in_pages(page_size, cut.position)
        stamped_by = cut.stamped_by
        if stamped_by is None:
            return events
        return (event for event in events if event.timestamp <= stamped_by)

    def _events_in_pages(self, page_size: int, upto: int | None = None) -> Iterator[Event]:
        start = 1
        while upto is None or start <= upto:
            limit = page_size if upto is None else min(page_size, upto - start + 1)
            page = self.recorder.select_notifications(start, limit)
            if not page:
                return
            for notification in page:
                if upto is not None and notification.id > upto:
                    return
                event = self.mapper.to_domain_event(notification)
                if isinstance(event, Event):  # not an idempotency record (bookkeeping)
                    yield event
            start = page[-1].id + 1

    def ageing(
        self,
        as_of: date,
        *,
        grouping: ageing.AgeingGrouping = ageing.AgeingGrouping.PORTFOLIO,
        policy: AgeingPolicy | None = None,
        edges_days: Sequence[int] | None = None,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> ageing.AgeingReport:
        """The ageing table as of ``as_of`` (as committed by ``known_at``, or at log position
        ``at_position``, if given; ``report.as_of_log`` names the position it reflects).

        Buckets and basis are those of the escalation policy version in force on ``as_of``
        (as known at the cut), like every other query; ``edges_days`` replaces its
        bucket edges for a one-off view, and an explicit ``policy`` replaces it whole.
        Served by the query engine (``read_models="stored"``), or replayed.

        Raises:
            GroupingTypeError: ``grouping`` is not an ``AgeingGrouping`` (text is not parsed).
            LogPositionError: both cuts given, or ``at_position`` beyond the log.
        """
        _require_grouping(grouping, ageing.AgeingGrouping)
        cut = self._cut(known_at, at_position)
        if self.read_models != "replay":
            report = self.query_engine().ageing(
                as_of,
                grouping=grouping,
                policy=policy,
                edges_days=None if edges_days is None else tuple(edges_days),
                known_at=cut.stamped_by,
                upto=cut.position,
            )
            return attrs.evolve(report, as_of_log=cut.as_of_log)
        state = self._replayed(cut)
        if policy is not None:
            if edges_days is not None:
                policy = AgeingPolicy(edges_days=edges_days, basis=policy.basis)
            report = ageing.ageing_report(state.ageing, as_of, policy=policy, grouping=grouping)
        else:
            report = portfolio_ageing_report(state, as_of, grouping=grouping, edges_days=edges_days)
        return attrs.evolve(report, as_of_log=cut.as_of_log)

    # Collections queries: pure read models over a fold of the log --------------------------

    def portfolio(
        self,
        *,
        known_at: datetime | None = None,
        customer_ids: Iterable[UUID] | None = None,
        at_position: int | None = None,
    ) -> PortfolioState:
        """Every fact of the ledger with its business date, ready for the as-of queries below.

        From the stored read models (caught up first) unless replaying. At a cut (committed by
        ``known_at``, or ``at_position``) the stored models cannot serve (they hold the latest
        facts): the events come from the query engine's columnar log, cut at the position (no
        JSON decoding), and folded whole, as a replay does (``customer_ids`` is a hint for the
        stored read only).
        """
        if known_at is None and at_position is None:
            if self.read_models == "replay" or self.in_memory:
                return fold_portfolio(self.iter_events())
            return self._stored_portfolio(customer_ids)
        return self._portfolio_at(self._cut(known_at, at_position))

    def _portfolio_at(self, cut: Cut) -> PortfolioState:
        """Every fact recorded at ``cut``: from the engine's columnar log, or replayed."""
        if self.read_models != "replay":
            events = self.query_engine().events(cut.stamped_by, upto=cut.position)
            return fold_portfolio(events, known_at=cut.stamped_by)
        return self._replayed(cut)

    def _replayed(self, cut: Cut) -> PortfolioState:
        return fold_portfolio(self._events_cut(cut), known_at=cut.stamped_by)

    def _stored_portfolio(self, customer_ids: Iterable[UUID] | None) -> PortfolioState:
        runner = self.projection_runner()
        for _attempt in range(STALE_RETRIES_MAX):
            try:
                runner.catch_up()
            except StaleRunnerError:
                continue  # another runner committed this batch first: read on from there
            return runner.portfolio(customer_ids)
        raise ConcurrencyError(
            f"gave up catching up the read models after {STALE_RETRIES_MAX} attempts",
            attempts=STALE_RETRIES_MAX,
        )

    def escalation_status(
        self,
        customer_code: str,
        as_of: date,
        *,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> EscalationStatus:
        """Level, grade, reasons, suspension, next action and history of one customer."""

        as_of = require_date("as_of", as_of)
        cut = self._cut(known_at, at_position)
        status = self._escalation_status(customer_code, as_of, cut)
        return attrs.evolve(status, as_of_log=cut.as_of_log)

    def _escalation_status(self, customer_code: str, as_of: date, cut: Cut) -> EscalationStatus:
        """``escalation.escalation_status`` of the customer at ``cut`` (kept by the engine)."""
        from arledger.projections import escalation

        return self._customer_answer(
            customer_code,
            cut,
            ("escalation_status", as_of),
            lambda state, customer_id: escalation.escalation_status(state, customer_id, as_of),
        )

    def worklist(
        self,
        as_of: date,
        *,
        owner: str | None = None,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> Worklist:
        """Customers needing action as of ``as_of``, in the policy's priority order (a
        sequence of ``WorklistItem`` naming the policy version that ordered it)."""
        from arledger.projections import escalation

        if owner is not None:
            require_person("owner", owner)
        cut = self._cut(known_at, at_position)
        # The owner is shown the cash their people hold too long (as their manager) and the
        # reduction requests waiting for them (as an approver), at the same cut of the log: an
        # owner is known by an account, as a manager in a policy or as an approver.
        handover_state = self._handover_state(cut, held_on=as_of)
        requests_state = self._reduction_requests_state(cut)
        others = _managers_of(handover_state) | _approvers_of(requests_state)
        if self.read_models != "replay":
            if owner is not None:
                owners = self.query_engine().owners(cut.stamped_by, cut.position)
                _require_owner(owner, owners | others)
            worklist = self.query_engine().worklist(
                as_of, owner=owner, known_at=cut.stamped_by, upto=cut.position
            )
        else:
            state = self._replayed(cut)
            if owner is not None:
                _require_owner(owner, _owners_of(state) | others)
            worklist = Worklist(
                as_of=as_of,
                owner=owner,
                policy_version=state.policy_on(as_of).version,
                items=tuple(escalation.worklist(state, as_of, owner=owner)),
            )
        held = handover.cash_not_handed_over(handover_state, as_of, manager=owner).rows
        pending = reductions_projection.pending_approvals(requests_state, approver=owner)
        return attrs.evolve(
            worklist, as_of_log=cut.as_of_log, cash_held=held, pending_approvals=pending
        )

    def owners(
        self, *, known_at: datetime | None = None, at_position: int | None = None
    ) -> frozenset[str]:
        """Every collection owner the ledger names (an account opened or handed to them, or a
        manager in a policy, whatever the date), as recorded by ``known_at`` or at
        ``at_position``: the owners ``worklist(owner=...)`` takes."""
        cut = self._cut(known_at, at_position)
        managers = _managers_of(self._handover_state(cut, held_on=None))
        if self.read_models != "replay":
            return self.query_engine().owners(cut.stamped_by, cut.position) | managers
        return _owners_of(self._replayed(cut)) | managers

    def cash_not_handed_over(
        self,
        as_of: date,
        *,
        manager: str | None = None,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> handover.CashHandoverReport:
        """Cash and cheques collected in person and not handed to finance within the days of
        the policy in force on ``as_of``, longest held first; only the people whose manager
        (the policy's ``managers``) is ``manager``, if given."""
        require_date("as_of", as_of)
        if manager is not None:
            require_person("manager", manager)
        return self._cash_held(as_of, manager, self._cut(known_at, at_position))

    def _cash_held(self, as_of: date, manager: str | None, cut: Cut) -> handover.CashHandoverReport:
        state = self._handover_state(cut, held_on=as_of)
        return handover.cash_not_handed_over(state, as_of, manager=manager)

    def _reduction_requests_state(self, cut: Cut) -> reductions_projection.ReductionsState:
        """The reductions fold over what pending approvals read (the requests, their invoices
        and customers, the authority policy), at the cut: from the query engine's columnar
        log, or a replay."""
        if self.read_models != "replay":
            events: Iterable[Event] = self.query_engine().reduction_request_events(
                cut.stamped_by, cut.position
            )
        else:
            events = self._events_cut(cut)
        return reductions_projection.fold_all(events)

    def _handover_state(self, cut: Cut, *, held_on: date | None) -> handover.HandoverState:
        """The cash-handover fold at the cut: from the query engine's columnar log, only the
        payments that may be held on ``held_on`` (None: the policy versions only, who manages
        whom), or a replay of every event."""
        if self.read_models != "replay":
            engine = self.query_engine()
            events: Iterable[Event] = (
                engine.policy_events(cut.stamped_by, cut.position)
                if held_on is None
                else engine.handover_events(cut.stamped_by, cut.position, held_on=held_on)
            )
        else:
            events = self._events_cut(cut)
        return handover.fold_all(events)

    def backtest(
        self,
        candidate: EscalationPolicy,
        from_month: str,
        to_month: str,
        *,
        step: BacktestStep = BacktestStep.MONTH,
        min_level: int = BACKTEST_MIN_LEVEL,
        known_at: datetime | None = None,
    ) -> Backtest:
        """What ``candidate`` would have done from ``from_month`` to ``to_month`` (``YYYY-MM``),
        beside the policy actually in force: on each period end (each month's last day, or
        each Sunday with ``step=WEEK``), per policy, the customers per level, on supply hold,
        at the top (legal) level, the broken promises counted, and the customers at
        ``min_level`` or above with the money collected from them after that day and whether
        they were written off later; then every customer whose level differs.

        The candidate is used as the single policy throughout (every date, before the period
        too: promise deadlines and levels held by promises follow it), so a candidate equal
        to the one policy in force gives identical rows and no difference; the actual rows
        are the ledger's own (the worklist's levels). Always computed on the query engine's
        fast path, whatever ``read_models``, as recorded by ``known_at`` if given. Records
        nothing.

        Raises:
            InvalidDateError: a month is not ``YYYY-MM``, or ``to_month`` is before
                ``from_month``.
            InvalidCommandError: ``candidate`` is not an ``EscalationPolicy``, ``step`` not a
                ``BacktestStep`` or ``min_level`` not a positive int.
        """
        require_known_at(known_at)
        ends = require_backtest_terms(candidate, from_month, to_month, step, min_level)
        cut = self._cut(known_at, None)  # the log committed by known_at, as every query cuts
        return self.query_engine().backtest(
            candidate,
            ends,
            from_month=from_month,
            to_month=to_month,
            step=step,
            min_level=min_level,
            known_at=cut.stamped_by,
            upto=cut.position,
        )

    def explain(
        self,
        customer_code: str,
        as_of: date,
        *,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> Explanation:
        """Why the customer stands at its level: its escalation status and the same in words
        and figures (``str(explanation)``)."""
        from arledger.projections import escalation

        as_of = require_date("as_of", as_of)
        cut = self._cut(known_at, at_position)
        if self.read_models == "replay":  # one replay for both
            customer_id, state = self._customer_portfolio(customer_code, cut)
            status = escalation.escalation_status(state, customer_id, as_of)
            text = escalation.explain(state, customer_id, as_of, status=status)
        else:  # the status kept by the engine (asked with the explanation, usually)
            status = self._escalation_status(customer_code, as_of, cut)
            text = self._customer_answer(
                customer_code,
                cut,
                ("explain", as_of),
                lambda state, customer_id: escalation.explain(
                    state, customer_id, as_of, status=status
                ),
            )
        return Explanation(
            customer_code=status.customer_code,
            as_of=as_of,
            status=attrs.evolve(status, as_of_log=cut.as_of_log),
            text=text,
            as_of_log=cut.as_of_log,
        )

    def promises(
        self,
        customer_code: str,
        as_of: date,
        *,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> PromiseReport:
        """The customer's promises to pay made by ``as_of``, each judged on ``as_of`` (kept,
        partly kept, broken, open, withdrawn, superseded), with the kept rates."""
        as_of = require_date("as_of", as_of)
        cut = self._cut(known_at, at_position)
        customer_id, state = self._customer_portfolio(customer_code, cut)
        return attrs.evolve(promise_report(state, customer_id, as_of), as_of_log=cut.as_of_log)

    def collection_case(
        self,
        customer_code: str,
        as_of: date,
        *,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> CaseReport:
        """The collection actions taken for the customer and the diagnoses made, by ``as_of``."""
        as_of = require_date("as_of", as_of)
        cut = self._cut(known_at, at_position)
        customer_id, state = self._customer_portfolio(customer_code, cut)
        return attrs.evolve(case_report(state, customer_id, as_of), as_of_log=cut.as_of_log)

    def _customer_portfolio(self, customer_code: str, cut: Cut) -> tuple[UUID, PortfolioState]:
        """One customer's id and facts: a fold of that customer's events from the query
        engine's columnar log (at ``cut``), or replayed.

        Not from the stored partitions: their catch-up is of the whole log (minutes at 1M
        invoices for a first query after only portfolio queries ran), where the engine's log
        is caught up by every query and finds one customer's events by index. The id comes
        from the code (no fold of the customer's aggregate)."""
        customer_id = ids.customer_id(require_key("customer_code", customer_code))
        state = self._customer_state(customer_id, cut)
        _require_customer(state, customer_id, customer_code, cut)
        return customer_id, state

    def _customer_answer(
        self,
        customer_code: str,
        cut: Cut,
        question: Hashable,
        answer: Callable[[PortfolioState, UUID], T],
    ) -> T:
        """``answer(state, customer_id)`` over the customer's facts at ``cut``
        (``_customer_portfolio``'s), kept by the query engine under ``question`` (which names
        every other thing the answer depends on) until the customer's events change; computed
        each time on the replay."""
        customer_id = ids.customer_id(require_key("customer_code", customer_code))

        def answered(state: PortfolioState) -> T:
            _require_customer(state, customer_id, customer_code, cut)
            return answer(state, customer_id)

        if self.read_models == "replay":
            return answered(self._replayed(cut))
        result: T = self.query_engine().customer_answer(
            customer_id, cut.stamped_by, fold_portfolio, question, answered, upto=cut.position
        )
        return result

    def _customer_state(self, customer_id: UUID, cut: Cut) -> PortfolioState:
        """The facts of one customer (and the policy versions), as ``_customer_portfolio``."""
        if self.read_models != "replay":
            state: PortfolioState = self.query_engine().customer_state(
                customer_id, cut.stamped_by, fold_portfolio, upto=cut.position
            )
            return state
        return self._replayed(cut)

    def check_credit(
        self,
        customer_code: str,
        order_amount: Money,
        as_of: date,
        *,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> CreditDecision:
        """Approve or block an order, with every reason (as the ledger had committed the
        customer by ``known_at``, or at ``at_position``, if given: what a credit check
        answered then)."""
        from arledger.projections import credit

        order_amount = require_money("order_amount", order_amount)
        cut = self._cut(known_at, at_position)
        customer_id, state = self._customer_portfolio(customer_code, cut)
        decision = credit.check_credit(
            state,
            customer_id,
            order_amount_minor=order_amount.amount_minor,
            currency=order_amount.currency,
            as_of=as_of,
        )
        return attrs.evolve(decision, as_of_log=cut.as_of_log)

    def kpis(
        self,
        start_on: date,
        end_on: date,
        *,
        grouping: KpiGrouping = KpiGrouping.PORTFOLIO,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> KpiReport:
        """Collection KPIs for the period ``start_on``..``end_on`` (inclusive), one row per
        group (``KpiGrouping``: portfolio, owner or customer) and currency.

        Raises:
            GroupingTypeError: ``grouping`` is not a ``KpiGrouping`` (text is not parsed).
        """
        from arledger.projections import kpis

        _require_grouping(grouping, KpiGrouping)
        cut = self._cut(known_at, at_position)
        if self.read_models != "replay":
            report = self.query_engine().kpis(
                start_on, end_on, grouping=grouping, known_at=cut.stamped_by, upto=cut.position
            )
        else:
            report = kpis.kpi_report(self._replayed(cut), start_on, end_on, grouping=grouping)
        return attrs.evolve(report, as_of_log=cut.as_of_log)

    def kpis_monthly(
        self,
        from_on: date,
        to_on: date,
        *,
        grouping: KpiGrouping = KpiGrouping.PORTFOLIO,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> KpiSeries:
        """The KPIs of every calendar month from the month of ``from_on`` to the month of
        ``to_on`` (both included), one ``KpiReport`` per month, as ``kpis`` gives each (all
        at one cut of the log).

        Raises:
            InvalidDateError: ``from_on`` is after ``to_on``.
            ConfigurationError: more than ``TRAILING_MONTHS_MAX`` (120) months.
            GroupingTypeError: ``grouping`` is not a ``KpiGrouping``.
        """
        from arledger.projections import kpis

        _require_grouping(grouping, KpiGrouping)
        periods = kpis.monthly_periods(from_on, to_on)
        cut = self._cut(known_at, at_position)
        if self.read_models != "replay":
            engine = self.query_engine()
            reports = tuple(
                engine.kpis(
                    start_on, end_on, grouping=grouping, known_at=cut.stamped_by, upto=cut.position
                )
                for start_on, end_on in periods
            )
        else:
            reports = kpis.kpi_series(
                self._replayed(cut), from_on, to_on, grouping=grouping
            ).reports
        return kpis.KpiSeries(
            grouping=grouping,
            reports=tuple(attrs.evolve(report, as_of_log=cut.as_of_log) for report in reports),
        )

    def summary(
        self,
        as_of: date,
        *,
        kpi_months: int = SUMMARY_KPI_MONTHS,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> BookSummary:
        """The book at a glance as of ``as_of`` (``projections.summary``): open money, overdue
        and long-overdue shares, disputed money and DSO per currency, customers with money
        open and per escalation level on the worklist. Drawn from ``ageing`` (by customer),
        ``kpis`` of the ``kpi_months`` months ending on ``as_of`` and ``worklist``, all at one
        position of the log (the ageing's, unless a cut is given)."""
        from arledger.projections import kpis

        start_on, _ = kpis.trailing_period(require_date("as_of", as_of), kpi_months)
        by_customer = self.ageing(
            as_of, grouping=AgeingGrouping.CUSTOMER, known_at=known_at, at_position=at_position
        )
        if known_at is None and at_position is None and by_customer.as_of_log is not None:
            at_position = by_customer.as_of_log.position  # the same log for every answer
        report = self.kpis(start_on, as_of, known_at=known_at, at_position=at_position)
        worklist = self.worklist(as_of, known_at=known_at, at_position=at_position)
        return book_summary(by_customer, report, worklist)

    def report(
        self,
        as_of: date,
        *,
        owner: str | None = None,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> PortfolioReport:
        """The figures of the portfolio report (``arledger report``) as of ``as_of``: ageing by
        bucket per currency, the KPIs of the last twelve whole months (``kpis_monthly``),
        customers per escalation level and grade, the top overdue customers and the worklist
        per owner; ``owner``'s alone if given. All taken at one cut of the log (the first
        answer's position, unless ``known_at`` or ``at_position`` names one);
        ``report.html()`` is the self-contained HTML file.

        Raises:
            OwnerNotFoundError: no account is or was in ``owner``'s care (as ``worklist``).
        """
        from arledger.adapters.report.model import portfolio_report

        require_date("as_of", as_of)
        if owner is not None:
            require_person("owner", owner)
        return portfolio_report(
            self, as_of, owner=owner, known_at=known_at, at_position=at_position
        )

    # Reporting currency: the per-currency answers converted at the rates in force ---------

    def exchange_rates(
        self, *, known_at: datetime | None = None, at_position: int | None = None
    ) -> tuple[ExchangeRate, ...]:
        """Every exchange rate recorded (as committed by ``known_at``, or at ``at_position``,
        if given), in recording order."""
        return self._rates_at(self._cut_if(known_at, at_position))

    def _cut_if(self, known_at: datetime | None, at_position: int | None) -> Cut | None:
        """The cut asked for (None: none asked, the latest of everything)."""
        if known_at is None and at_position is None:
            return None
        return self._cut(known_at, at_position)

    def _rates_at(self, cut: Cut | None) -> tuple[ExchangeRate, ...]:
        book = exchange_rate_module.fold(self._aggregate_events(ids.rate_book_id(), cut))
        return () if book is None else book.rates

    @staticmethod
    def _same_cut(cut: Cut) -> tuple[datetime | None, int | None]:
        """``known_at`` and ``at_position`` that make another query answer at ``cut``: its
        position, or (for a fallback cut by stamps) its instant."""
        if cut.stamped_by is not None:
            return cut.stamped_by, None
        return None, cut.position

    def ageing_in(
        self,
        reporting_currency: str,
        as_of: date,
        *,
        grouping: AgeingGrouping = AgeingGrouping.PORTFOLIO,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> reporting.ReportingAgeingReport:
        """The ageing table as of ``as_of`` in ``reporting_currency``: ``ageing`` (carried
        unchanged as ``per_currency``) converted at the rates in force on ``as_of``, with the
        rates used; the ageing and the rates read at one cut of the log (as committed by
        ``known_at``, or at ``at_position``, if given).

        Raises:
            ExchangeRateNotFoundError: a currency has no rate to the reporting currency in
                force on ``as_of``.
        """
        cut = self._cut(known_at, at_position)
        stamped_by, position = self._same_cut(cut)
        report = self.ageing(as_of, grouping=grouping, known_at=stamped_by, at_position=position)
        return reporting.ageing_in(
            report, self._rates_at(cut), reporting_currency, known_at=known_at
        )

    def kpis_in(
        self,
        reporting_currency: str,
        start_on: date,
        end_on: date,
        *,
        grouping: KpiGrouping = KpiGrouping.PORTFOLIO,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> reporting.ReportingKpiReport:
        """The KPIs of the period in ``reporting_currency`` at the rates in force on
        ``end_on``, with the per-currency report (``per_currency``) and the rates used, both
        read at one cut of the log."""
        cut = self._cut(known_at, at_position)
        stamped_by, position = self._same_cut(cut)
        report = self.kpis(
            start_on, end_on, grouping=grouping, known_at=stamped_by, at_position=position
        )
        return reporting.kpis_in(report, self._rates_at(cut), reporting_currency, known_at=known_at)

    def worklist_in(
        self,
        reporting_currency: str,
        as_of: date,
        *,
        owner: str | None = None,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> reporting.ReportingWorklist:
        """The worklist of ``as_of`` ordered with overdue amounts compared in
        ``reporting_currency`` at the rates in force on ``as_of``, with the rates used: the
        worklist, the policy and the rates read at one cut of the log."""
        cut = self._cut(known_at, at_position)
        stamped_by, position = self._same_cut(cut)
        worklist = self.worklist(as_of, owner=owner, known_at=stamped_by, at_position=position)
        book = policy_book_module.fold(self._aggregate_events(ids.policy_book_id(), cut))
        policy = policy_book_module.policy_in_force(() if book is None else book.versions, as_of)
        return reporting.worklist_in(
            worklist, policy, self._rates_at(cut), reporting_currency, known_at=known_at
        )

    def propose_credit_line(
        self,
        registered_capital: Money,
        on: date,
        *,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> Money:
        """The credit line the policy in force on ``on`` (as known at ``known_at``, or at
        ``at_position``, if given) proposes for a registered capital."""
        require_date("on", on)
        if known_at is None and at_position is None:
            policy = self.portfolio().policy_on(on)
        else:
            cut = self._cut(known_at, at_position)
            if self.read_models != "replay":
                policy = self.query_engine().policy_on(on, cut.stamped_by, upto=cut.position)
            else:
                policy = self._replayed(cut).policy_on(on)
        return Money(
            customer_module.propose_credit_line(registered_capital.amount_minor, policy),
            registered_capital.currency,
        )

    def expected_pay_on(
        self,
        invoice_number: str,
        *,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> date:
        """When the customer's payment calendar (book-closing and payment-run days) lets the
        invoice's money arrive: the calendar in force on the invoice's due date
        (``PortfolioState.expected_pay_on``), as committed by ``known_at`` (or at
        ``at_position``) if given.

        The invoice's customer's events are folded from the query engine's columnar log (or
        replayed), as for a statement: partitions stored before calendars were dated hold only
        the latest calendar. At a cut, the invoice must have been recorded by then."""
        cut = self._cut(known_at, at_position)
        invoice = self.invoice(invoice_number)
        state = self._customer_state(invoice.customer_id, cut)
        if invoice.id not in state.ageing.invoices:
            raise InvoiceNotFoundError(
                f"no invoice {invoice_number!r}{cut.named}",
                invoice_number=invoice_number,
            )
        return state.expected_pay_on(invoice.id)

    def balance_confirmations(
        self,
        customer_code: str,
        *,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> list[Confirmation]:
        """The customer's balance confirmations, acknowledged ones with their (flagged)
        difference from the ledger (those sent and acknowledged by the cut, if given)."""
        cut = self._cut(known_at, at_position)
        customer_id, state = self._customer_portfolio(customer_code, cut)
        return list(state.customers[customer_id].confirmations)

    def statement(
        self,
        customer_code: str,
        from_on: date,
        to_on: date,
        *,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> Statement:
        """The customer's statement of account for ``from_on``..``to_on`` (both included):
        opening balance, every movement with its date and reference, closing balance, its
        ageing, and unapplied cash (as committed by ``known_at``, or at ``at_position``).

        Folds that customer's events: from the query engine's columnar log, or a replay. The
        stored partitions hold balances by date but not each movement's kind and reference.
        """
        require_period(require_date("from_on", from_on), require_date("to_on", to_on))
        cut = self._cut(known_at, at_position)
        customer_id, state = self._statement_state(customer_code, cut)
        statement = statement_projection.statement_of_account(state, customer_id, from_on, to_on)
        return attrs.evolve(statement, as_of_log=cut.as_of_log)

    def _statement_state(
        self, customer_code: str, cut: Cut
    ) -> tuple[UUID, statement_projection.StatementState]:
        """The statement fold of that customer's events: from the query engine's columnar log,
        or a replay (the stored partitions hold balances by date, not each movement)."""
        customer_id = ids.customer_id(require_key("customer_code", customer_code))
        if self.read_models != "replay":
            events: Iterable[Event] = self.query_engine().customer_events(
                customer_id, cut.stamped_by, upto=cut.position
            )
        else:
            events = self._events_cut(cut)
        state = statement_projection.fold_all(events, known_at=cut.stamped_by)
        if customer_id not in state.portfolio.customers:
            raise CustomerNotFoundError(
                f"no customer account {customer_code!r}{cut.named}",
                customer_code=customer_code,
            )
        return customer_id, state

    def letter(
        self,
        kind: LetterKind,
        customer_code: str,
        as_of: date,
        *,
        from_on: date | None = None,
        dated_on: date | None = None,
        pay_by_on: date | None = None,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> Letter:
        """The figures of a letter to the customer (issue 15.4): the statement of account for
        ``from_on`` (default: the account's opening) to ``as_of``, its ageing, the invoices
        open on ``as_of`` and, for a demand letter, the overdue total it asks to be paid by
        ``pay_by_on`` (default: a week after the letter's date). Dated ``dated_on`` (default:
        ``as_of``), addressed to the customer's payment contact (or its key person). Records
        nothing: ``send_letter`` writes and records it. As committed by ``known_at``, or at
        ``at_position``, if given: the letter the ledger could have written then
        (``letter.statement.as_of_log`` names the position).

        Raises:
            CustomerNotFoundError, InvalidDateError, CustomerStateError (a demand letter with
            nothing overdue), InvalidCommandError (``pay_by_on`` for another kind).
        """
        _require_enum("kind", kind, LetterKind)
        require_date("as_of", as_of)
        cut = self._cut(known_at, at_position)
        account = self.customer(customer_code, known_at=known_at, at_position=at_position)
        start_on = account.opened_on if from_on is None else require_date("from_on", from_on)
        require_period(start_on, as_of)
        customer_id, state = self._statement_state(customer_code, cut)
        letter = letters_projection.letter(
            state,
            customer_id,
            kind,
            as_of=as_of,
            from_on=start_on,
            dated_on=as_of if dated_on is None else dated_on,
            pay_by_on=pay_by_on,
            contact=_addressee(account),
        )
        statement = attrs.evolve(letter.statement, as_of_log=cut.as_of_log)
        return attrs.evolve(letter, statement=statement)

    def send_letter(
        self,
        kind: LetterKind,
        customer_code: str,
        as_of: date,
        out: Path,
        *,
        language: Language = Language.EN,
        template_dir: Path | None = None,
        sender: str = "",
        from_on: date | None = None,
        sent_on: date | None = None,
        pay_by_on: date | None = None,
        collector: str | None = None,
        overwrite: bool = False,
        plaintext: bool = False,
    ) -> LetterSent:
        """Write the letter (``letter``) to ``out`` as PDF or HTML (told by its suffix) in
        ``language``, from the templates of ``template_dir`` (each one missing there: the
        package's), and record it as sent on ``sent_on`` (default: ``as_of``) by ``collector``
        (default: the customer's collection owner): a collection action naming the letter's
        kind and figures (a demand letter: the ``DEMAND_LETTER`` tool, with its follow-up the
        day after the pay-by date; the others: ``FINANCE_LETTER``), and for a balance
        confirmation also ``send_balance_confirmation`` under the letter's reference.

        The file is written in full before anything is recorded, then put in place; a refusal
        leaves no file and no record. One letter of a kind per customer and day: sending it
        again writes the file and records nothing (``recorded`` False); the same day with other
        figures or options is refused (``IdempotencyKeyConflictError``).

        Raises:
            LetterOutputError: ``out`` is not ``.pdf``/``.html``, its folder is missing, or it
                exists and ``overwrite`` is False.
            LetterTemplateError: a template is missing or broken.
            PlaintextOutputError: an encrypted store and ``plaintext`` False.
            and what ``letter`` raises.
        """
        _require_enum("language", language, Language)
        output = check_output(out, overwrite=overwrite)
        self.check_plaintext_output(out, output="letter", plaintext=plaintext)
        letter = self.letter(
            kind, customer_code, as_of, from_on=from_on, dated_on=sent_on, pay_by_on=pay_by_on
        )
        content = render_letter(letter, language, output, template_dir=template_dir, sender=sender)
        commands = letter_commands(
            letter, collector=letter.collection_owner if collector is None else collector
        )
        key = letter_idempotency_key(letter)
        partial = write_aside(out, content)
        try:
            try:
                result = self.execute(*commands, idempotency_key=key)
            except IdempotencyKeyConflictError:
                raise IdempotencyKeyConflictError(
                    f"a {kind.value} letter to {letter.customer_code} dated {letter.dated_on} "
                    "is already recorded with other figures or options (one letter of a kind "
                    "per customer and day): nothing written or recorded",
                    customer_code=letter.customer_code,
                    idempotency_key=key,
                ) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, out)
        return LetterSent(
            letter=letter,
            language=language,
            output=output,
            path=str(out),
            size_bytes=len(content),
            recorded=result.recorded,
            events=result.events,
        )

    def unapplied_cash(
        self,
        as_of: date,
        *,
        customer_code: str | None = None,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> UnappliedCashReport:
        """Money received by ``as_of`` and not applied to an invoice by then, per customer and
        currency with the bank references (``customer_code``'s only, if given; as committed by
        ``known_at``, or at ``at_position``, if given). The statement of account shows the
        same figure as of its end.

        Folds the events from the query engine's columnar log (that customer's only, if one is
        asked for), or a replay: the stored partitions hold balances, not each payment.

        Raises:
            CustomerNotFoundError: ``customer_code`` names no account (recorded by the cut).
        """
        require_date("as_of", as_of)
        cut = self._cut(known_at, at_position)
        if customer_code is None:
            report = unapplied_projection.unapplied_cash(self._portfolio_at(cut), as_of)
        else:
            customer_id, state = self._customer_portfolio(customer_code, cut)
            report = unapplied_projection.unapplied_cash(state, as_of, customer_id)
        return attrs.evolve(report, as_of_log=cut.as_of_log)

    def collection_plan(
        self,
        month_on: date,
        *,
        by: plans_projection.PlanGrouping = plans_projection.PlanGrouping.CUSTOMER,
        as_of: date | None = None,
        customer_code: str | None = None,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> plans_projection.CollectionPlan:
        """The monthly collection plans [追款计划] of the month starting ``month_on`` (its first
        day; ``InvalidDateError`` for another day) as of ``as_of``
        (default the month's last day): per customer, owner or team (``by``) the target, the
        committed promise tranches, the cash collected, the gaps, and the customers with a
        target and no commitment; ``customer_code``'s only, if given.

        Raises:
            GroupingTypeError: ``by`` is not a ``PlanGrouping``.
            CustomerNotFoundError: ``customer_code`` names no account (recorded by the cut).
        """
        cut = self._cut(known_at, at_position)
        require_date("month_on", month_on)
        if month_on.day != 1:
            raise InvalidDateError(
                f"a plan's month is named by its first day, got {month_on}", field="month_on"
            )
        if as_of is not None:
            require_date("as_of", as_of)
        _require_grouping(by, plans_projection.PlanGrouping)
        if customer_code is None:
            report = plans_projection.collection_plan(
                self._portfolio_at(cut), month_on, as_of, grouping=by
            )
        else:
            customer_id, state = self._customer_portfolio(customer_code, cut)
            report = plans_projection.collection_plan(
                state, month_on, as_of, grouping=by, customer_ids=(customer_id,)
            )
        return attrs.evolve(report, as_of_log=cut.as_of_log)

    def _reductions_state(
        self, known_at: datetime | None, at_position: int | None
    ) -> reductions_projection.ReductionsState:
        """The reductions fold over the whole log at the cut (as committed by ``known_at``, or
        at ``at_position``, if given): from the query engine's columnar log, or a replay; the
        same events either way."""
        cut = self._cut(known_at, at_position)
        if self.read_models != "replay":
            events: Iterable[Event] = self.query_engine().events(cut.stamped_by, upto=cut.position)
        else:
            events = self._events_cut(cut)
        return reductions_projection.fold_all(events)

    def reductions(
        self,
        from_on: date,
        to_on: date,
        *,
        approver: str | None = None,
        customer_code: str | None = None,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> ReductionsReport:
        """Every reduction (credit note, upheld dispute's credit note, concession, write-off)
        dated ``from_on``..``to_on`` (both included) with its customer, amount, approvers and
        reason: ``approver``'s (first or second) and ``customer_code``'s only, if given (as
        committed by ``known_at``, or at ``at_position``, if given)."""
        require_period(require_date("from_on", from_on), require_date("to_on", to_on))
        if approver is not None:
            require_person("approver", approver)
        if customer_code is not None:
            require_key("customer_code", customer_code)
        state = self._reductions_state(known_at, at_position)
        return reductions_projection.reductions(
            state, from_on, to_on, approver=approver, customer_code=customer_code
        )

    def pending_approvals(
        self,
        *,
        approver: str | None = None,
        known_at: datetime | None = None,
        at_position: int | None = None,
    ) -> tuple[PendingApproval, ...]:
        """Reduction requests waiting for approval, oldest first: those ``approver`` may
        approve (named in the authority policy in force on the reduction's date with a
        per-reduction limit that covers it, and not approved by them already), if given."""
        if approver is not None:
            require_person("approver", approver)
        state = self._reduction_requests_state(self._cut(known_at, at_position))
        return reductions_projection.pending_approvals(state, approver=approver)


QUERY_METHODS: Final = frozenset(
    {
        "ageing",
        "ageing_in",
        "backtest",
        "balance_confirmations",
        "cash_not_handed_over",
        "check_credit",
        "collection_case",
        "collection_plan",
        "customer",
        "escalation_status",
        "exchange_rates",
        "expected_pay_on",
        "goods_settlements",
        "explain",
        "invoice",
        "iter_events",
        "kpis",
        "kpis_monthly",
        "kpis_in",
        "owners",
        "payment",
        "pending_approvals",
        "portfolio",
        "promises",
        "propose_credit_line",
        "reductions",
        "report",
        "letter",
        "statement",
        "summary",
        "unapplied_cash",
        "worklist",
        "worklist_in",
    }
)
"""The Ledger's public queries: each returns a named, typed result and records nothing
(tests/packaging/test_public_types.py holds every public method to a kind)."""


def _require_customer(
    state: PortfolioState, customer_id: UUID, customer_code: str, cut: Cut
) -> None:
    """Raise ``CustomerNotFoundError`` unless the customer's account is in ``state``."""
    if customer_id not in state.customers:
        raise CustomerNotFoundError(
            f"no customer account {customer_code!r}{cut.named}",
            customer_code=customer_code,
        )


G = TypeVar("G", bound=enum.Enum)


def _require_grouping(grouping: object, expected: type[G]) -> None:
    """Refuse a grouping that is not a member of its enum, with a typed error (text such as
    ``"owner"`` is the caller's to parse: ``KpiGrouping("owner")``)."""
    if not isinstance(grouping, expected):
        choices = ", ".join(f"{expected.__name__}.{member.name}" for member in expected)
        raise GroupingTypeError(
            f"grouping {grouping!r} is not a {expected.__name__}; expected one of {choices}",
            grouping=grouping,
            expected=expected.__name__,
        )


def _require_enum(field: str, value: object, expected: type[G]) -> None:
    """Refuse a choice that is not a member of its enum (text is the caller's to parse:
    ``LetterKind("demand")``)."""
    if not isinstance(value, expected):
        choices = ", ".join(f"{expected.__name__}.{member.name}" for member in expected)
        raise InvalidChoiceError(
            f"{field} {value!r} is not a {expected.__name__}; expected one of {choices}",
            field=field,
            value=value,
        )


_ADDRESSEE_ROLES: Final = (
    ContactRole.PAYMENT_RESPONSIBLE,
    ContactRole.PAYMENT_APPROVER,
    ContactRole.KEY_PERSON,
)
"""Whom a letter about money owed is addressed to, first found first: the person responsible
for payment (付款责任人), the one who approves it, a key person; the acceptor of deliveries is
not asked for money."""


def _addressee(account: CustomerAccount) -> str:
    for role in _ADDRESSEE_ROLES:
        contact = account.contacts.get(role)
        if contact is not None:
            return contact[0]
    return ""


def _owners_of(state: PortfolioState) -> frozenset[str]:
    return frozenset(owner for history in state.customers.values() for _on, owner in history.owners)


def _managers_of(state: handover.HandoverState) -> frozenset[str]:
    return frozenset(
        manager for version in state.policy_versions for manager in version.policy.managers.values()
    )


def _approvers_of(state: reductions_projection.ReductionsState) -> frozenset[str]:
    return frozenset(
        entry.approver for version in state.authority_versions for entry in version.policy.approvers
    )


def _require_owner(owner: str, owners: frozenset[str]) -> None:
    """A worklist asked for an owner no account was ever in the care of is refused: an empty
    list would say that owner has nothing to chase."""
    if owner not in owners:
        known = ", ".join(sorted(owners)[:OWNERS_NAMED_MAX]) or "none yet"
        more = " ..." if len(owners) > OWNERS_NAMED_MAX else ""
        raise OwnerNotFoundError(
            f"no customer account is or was in the care of owner {owner!r} "
            f"(owners known: {known}{more})",
            owner=owner,
        )
