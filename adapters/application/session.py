"""``Session``: a unit of work that takes commands, one typed method per command.

``ledger.session()`` gives one; each method builds its command and hands it to its handler
(``arledger.adapters.application.handlers``), so the events are recorded in the session and
saved by ``commit()`` in one transaction. The importer and the demo decide many commands in
one session; ``Ledger.run`` retries a session's work after a version conflict.

The methods are derived from the command classes (``_handled``): a method's keyword
parameters are its command's fields, with their types and defaults, as mypy and an IDE see
them (the attrs constructor's signature, carried by a ``ParamSpec``). A command's fields are
written once, in ``domain/commands.py``; the ``Ledger``'s convenience methods, which differ
(a positional key, ``idempotency_key``, ids as results), keep their own signatures, and
``tests/unit/test_commands.py`` ties those to the same fields.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Concatenate, ParamSpec

from arledger.adapters.application.handlers import handle
from arledger.adapters.application.unit_of_work import UnitOfWork
from arledger.domain import commands as c
from arledger.domain.events import Event

P = ParamSpec("P")


def _handled(
    command: Callable[P, c.Command],
) -> Callable[Concatenate[UnitOfWork, P], list[Event]]:
    """A session method taking ``command``'s fields as keywords: it builds the command and
    returns the events its handler recorded in the session."""

    def method(session: UnitOfWork, /, *args: P.args, **kwargs: P.kwargs) -> list[Event]:
        return handle(command(*args, **kwargs), session)

    assert isinstance(command, type)
    method.__name__ = method_name(command)
    method.__qualname__ = f"Session.{method.__name__}"
    method.__doc__ = f"{command.__doc__} (``{command.__name__}``)"
    # For help() and editors that read signatures at run time: the fields, not *args/**kwargs.
    fields = inspect.signature(command)
    method.__signature__ = fields.replace(  # type: ignore[attr-defined]  # read by inspect
        parameters=[
            inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY),
            *fields.parameters.values(),
        ],
        return_annotation="list[Event]",
    )
    return method


def method_name(command: type[c.Command]) -> str:
    """The name of a command's method: ``IssueInvoice`` -> ``issue_invoice``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", command.__name__).lower()


class Session(UnitOfWork):
    """A unit of work with a method per command (keyword arguments only, the command's
    fields); each returns the events its command recorded (or, for a keyed allocation
    retried, the first ones)."""

    open_account = _handled(c.OpenAccount)
    issue_invoice = _handled(c.IssueInvoice)
    receive_payment = _handled(c.ReceivePayment)
    hand_over_cash = _handled(c.HandOverCash)
    allocate_payment = _handled(c.AllocatePayment)
    reverse_payment = _handled(c.ReversePayment)
    apply_credit_note = _handled(c.ApplyCreditNote)
    approve_concession = _handled(c.ApproveConcession)
    override_due_date = _handled(c.OverrideDueDate)
    write_off = _handled(c.WriteOff)
    reinstate = _handled(c.Reinstate)
    set_credit_line = _handled(c.SetCreditLine)
    rate_risk = _handled(c.RateRisk)
    blacklist = _handled(c.Blacklist)
    clear_blacklist = _handled(c.ClearBlacklist)
    file_bankruptcy = _handled(c.FileBankruptcy)
    suspect_fraud = _handled(c.SuspectFraud)
    change_terms = _handled(c.ChangeTerms)
    set_payment_calendar = _handled(c.SetPaymentCalendar)
    change_owner = _handled(c.ChangeOwner)
    set_collection_target = _handled(c.SetCollectionTarget)
    set_key_contact = _handled(c.SetKeyContact)
    hold_supply = _handled(c.HoldSupply)
    release_supply = _handled(c.ReleaseSupply)
    send_balance_confirmation = _handled(c.SendBalanceConfirmation)
    acknowledge_balance_confirmation = _handled(c.AcknowledgeBalanceConfirmation)
    resolve_reconciliation = _handled(c.ResolveReconciliation)
    accept_reconciliation = _handled(c.AcceptReconciliation)
    adopt_allocation_rule = _handled(c.AdoptAllocationRule)
    propose_goods_in_lieu = _handled(c.ProposeGoodsInLieu)
    approve_goods_in_lieu = _handled(c.ApproveGoodsInLieu)
    settle_goods_in_lieu = _handled(c.SettleGoodsInLieu)
    open_dispute = _handled(c.OpenDispute)
    resolve_dispute = _handled(c.ResolveDispute)
    make_promise = _handled(c.MakePromise)
    withdraw_promise = _handled(c.WithdrawPromise)
    record_action = _handled(c.RecordAction)
    diagnose = _handled(c.Diagnose)
    waive_negotiation = _handled(c.WaiveNegotiation)
    adopt_policy = _handled(c.AdoptPolicy)
    adopt_authority_policy = _handled(c.AdoptAuthorityPolicy)
    request_reduction = _handled(c.RequestReduction)
    approve_reduction = _handled(c.ApproveReduction)
    reject_reduction = _handled(c.RejectReduction)
    record_exchange_rate = _handled(c.RecordExchangeRate)
