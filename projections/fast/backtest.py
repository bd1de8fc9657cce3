"""Policy back-testing on the columnar fast path (``projections.backtest`` says what it means).

Input: the query engine's columns (``adapters.read_models.engine.SELECT``). The columns are cut
to ``known_at`` once; each period end is then one ``fast_portfolio_of`` under the adopted
versions and one under the candidate alone, and the payments and write-offs are read once
into arrays that every period end masks (nothing per customer in Python but the result rows).

Invariant: pure; the actual rows are the fast path's own figures (so the worklist's), and the
candidate's are the same computation with the candidate as the one policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from arledger.domain.money import Money
from arledger.domain.policy import EscalationPolicy
from arledger.projections.backtest import (
    Backtest,
    BacktestDifference,
    BacktestPeriod,
    BacktestPolicy,
    BacktestRow,
    BacktestStep,
    EscalatedCustomer,
)
from arledger.projections.fast import portfolio as fast_path
from arledger.projections.fast.portfolio import Columns, FastPortfolio

Ints = npt.NDArray[np.int64]


def _strings(table: dict[str, Any], column: str) -> npt.NDArray[np.object_]:
    values = np.asarray(table[f"{column}.dictionary"], dtype=object)
    return values[table[column]] if len(values) else np.empty(0, dtype=object)


def _row_of(ids: npt.NDArray[Any], size: int) -> Ints:
    """Row of each id index in a table whose ``originator_id`` column is ``ids`` (-1: none)."""
    rows = np.full(size, -1, np.int64)
    rows[np.asarray(ids, np.int64)] = np.arange(len(ids))
    return rows


class _Outcomes:
    """What happened after any date: payments by payer and write-offs by customer."""

    def __init__(self, tables: dict[str, dict[str, Any]], customer_of_id: Ints) -> None:
        payments = tables["PaymentReceived"]
        reversed_ids = np.asarray(tables["PaymentReversed"]["originator_id"], np.int64)
        payment_ids = np.asarray(payments["originator_id"], np.int64)
        kept = ~np.isin(payment_ids, reversed_ids)
        payer = np.asarray(payments["payer_customer_id"], np.int64)
        payer_row = np.where(payer < len(customer_of_id), customer_of_id[payer], -1)
        kept &= payer_row >= 0
        self.currencies: tuple[str, ...] = tuple(payments["currency.dictionary"])
        self.payer = payer_row[kept]
        self.currency = np.asarray(payments["currency"], np.int64)[kept]
        self.amount = np.asarray(payments["amount_minor"], np.int64)[kept]
        self.value_on = np.asarray(payments["value_on"], np.int64)[kept]

        invoices = tables["InvoiceIssued"]
        written = tables["InvoiceWrittenOff"]
        invoice_ids = np.asarray(invoices["originator_id"], np.int64)
        size = max(len(customer_of_id), int(invoice_ids.max(initial=-1)) + 1)
        invoice_row = _row_of(invoice_ids, size)
        invoice_customer = np.asarray(invoices["customer_id"], np.int64)
        rows = invoice_row[np.asarray(written["originator_id"], np.int64)]
        self.written_customer = customer_of_id[invoice_customer[rows]]
        self.written_on = np.asarray(written["written_off_on"], np.int64)

    def collected_after(self, on: int, wanted: npt.NDArray[np.bool_]) -> dict[int, list[Money]]:
        """Per customer row in ``wanted``: payments valued after ``on``, per currency."""
        picked = (self.value_on > on) & wanted[self.payer]
        payer, currency = self.payer[picked], self.currency[picked]
        width = max(len(self.currencies), 1)
        keys, inverse = np.unique(payer * width + currency, return_inverse=True)
        sums = np.zeros(len(keys), np.int64)
        np.add.at(sums, inverse, self.amount[picked])
        found: dict[int, list[Money]] = {}
        for key, total in zip(keys.tolist(), sums.tolist(), strict=True):
            found.setdefault(key // width, []).append(
                Money(amount_minor=int(total), currency=self.currencies[key % width])
            )
        return found

    def written_off_after(self, on: int, customers: int) -> npt.NDArray[np.bool_]:
        flags = np.zeros(customers, np.bool_)
        flags[self.written_customer[self.written_on > on]] = True
        return flags


def backtest(
    columns: Columns,
    *,
    candidate: EscalationPolicy,
    ends: Sequence[date],
    decode_policy: Callable[[str], EscalationPolicy],
    from_month: str,
    to_month: str,
    step: BacktestStep,
    min_level: int,
    known_at: datetime | None = None,
) -> Backtest:
    """The candidate against the adopted versions on each of ``ends`` (as recorded by
    ``known_at``): ``projections.backtest.Backtest``."""
    tables = fast_path.known_tables(columns, known_at)
    customers = tables["CustomerAccountOpened"]
    customer_ids = np.asarray(customers["originator_id"], np.int64)
    id_count = 1 + max(
        (
            int(np.asarray(column).max())
            for column in (
                customer_ids,
                tables["PaymentReceived"]["payer_customer_id"],
                tables["InvoiceIssued"]["customer_id"],
            )
            if len(column)
        ),
        default=0,
    )
    customer_of_id = _row_of(customer_ids, id_count)
    codes = _strings(customers, "customer_code")
    by_code = np.argsort(codes, kind="stable") if len(codes) else np.empty(0, np.int64)
    opened_on = np.asarray(customers.get("opened_on", np.zeros(len(customer_ids))), np.int64)
    outcomes = _Outcomes(tables, customer_of_id)

    periods, differences = [], []
    for end in ends:
        on = fast_path.days(end)
        opened = (opened_on <= on)[by_code]
        levels = {}
        rows = {}
        written = outcomes.written_off_after(on, len(customer_ids))[by_code]
        for kind, policy in ((BacktestPolicy.ACTUAL, None), (BacktestPolicy.CANDIDATE, candidate)):
            result = fast_path.fast_portfolio_of(
                tables, end, decode_policy=decode_policy, known_at=known_at, policy=policy
            )
            level = np.asarray(result.customers.level, np.int64)[by_code]
            levels[kind] = level
            rows[kind] = _row(
                kind,
                end,
                result,
                level,
                opened,
                written,
                codes[by_code],
                by_code,
                outcomes,
                min_level,
            )
        periods.append(
            BacktestPeriod(
                period_end=end,
                actual=rows[BacktestPolicy.ACTUAL],
                candidate=rows[BacktestPolicy.CANDIDATE],
            )
        )
        actual, other = levels[BacktestPolicy.ACTUAL], levels[BacktestPolicy.CANDIDATE]
        for index in np.flatnonzero(opened & (actual != other)).tolist():
            differences.append(
                BacktestDifference(
                    period_end=end,
                    customer_code=str(codes[by_code[index]]),
                    actual_level=int(actual[index]),
                    candidate_level=int(other[index]),
                )
            )
    return Backtest(
        from_month=from_month,
        to_month=to_month,
        step=step,
        known_at=known_at,
        min_level=min_level,
        candidate_version=candidate.version,
        periods=tuple(periods),
        differences=tuple(differences),
    )


def _row(
    kind: BacktestPolicy,
    end: date,
    result: FastPortfolio,
    level: Ints,
    opened: npt.NDArray[np.bool_],
    written: npt.NDArray[np.bool_],
    codes: npt.NDArray[np.object_],
    by_code: Ints,
    outcomes: _Outcomes,
    min_level: int,
) -> BacktestRow:
    """One policy's row on ``end``; every per-customer array is in customer-code order."""
    policy = result.policy
    top = len(policy.levels) - 1
    standing = level[opened]
    # Supply is held at a level whose rung says so, or by a distress effect
    # (``EscalationPolicy.supply_hold_at``), per distinct (level, standing).
    situation = np.asarray(result.customers.standing, np.int64)[by_code][opened]
    holds = np.zeros(len(standing), np.bool_)
    for level_on, code in {(int(a), int(b)) for a, b in zip(standing, situation, strict=True)}:
        _, bankrupt, fraud = fast_path.standing_of(code)
        held = policy.supply_hold_at(level_on, bankrupt=bankrupt, fraud=fraud)
        holds[(standing == level_on) & (situation == code)] = held
    broken = np.asarray(result.customers.broken_promises, np.int64)[by_code][opened]
    escalated_at = np.flatnonzero(opened & (level >= min_level))
    wanted = np.zeros(len(level), np.bool_)
    wanted[by_code[escalated_at]] = True
    collected = outcomes.collected_after(fast_path.days(end), wanted)
    escalated = []
    totals: dict[str, int] = {}
    for index in escalated_at.tolist():
        paid = tuple(collected.get(int(by_code[index]), ()))
        for money in paid:
            totals[money.currency] = totals.get(money.currency, 0) + money.amount_minor
        escalated.append(
            EscalatedCustomer(
                customer_code=str(codes[index]),
                level=int(level[index]),
                collected_after=paid,
                written_off_after=bool(written[index]),
            )
        )
    return BacktestRow(
        policy=kind,
        period_end=end,
        policy_version=policy.version,
        customers_by_level=tuple(
            int(count) for count in np.bincount(standing, minlength=top + 1)[: top + 1]
        ),
        on_supply_hold=int(holds.sum()),
        at_legal_level=int((standing == top).sum()) if top > 0 else 0,
        promises_broken=int(broken.sum()),
        escalated=tuple(escalated),
        collected_after=tuple(
            Money(amount_minor=amount, currency=currency)
            for currency, amount in sorted(totals.items())
        ),
        written_off_caught=int(written[escalated_at].sum()),
    )
