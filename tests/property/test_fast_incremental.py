"""The incremental fast path (projections/fast/incremental.py) equals a full recompute.

A ledger is cut at drawn ``seq`` points into a base and one to three batches (every table by
its ``seq`` column; the ids table is shared); the base builds an ``IncrementalPortfolio``, each
batch is applied, and after every batch the result equals ``fast_portfolio`` on the log up to
that batch, array for array (values, dtypes and shapes) and field for field, for drawn as-of
dates, ageing policies and known-at cuts. Ledgers: the seeded synthetic ledger of
``adapters/synthetic/generate.py`` (new customers and invoices arrive in later batches) and the
command-driven collections histories of the escalation properties (with policy versions, so
some batches take the full-recompute path). Batches come both with their own dictionaries (the
``columns`` of the batch's slice of the log) and with the whole log's.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arledger.adapters.read_models.columnar import ColumnarLog, columns, decode_policy, to_columnar
from arledger.adapters.synthetic.generate import generate_columnar
from arledger.domain.policy import AgeingBasis, AgeingPolicy, EscalationPolicy
from arledger.projections.fast import incremental as fast_incremental
from arledger.projections.fast.incremental import (
    IncrementalPortfolio,
    IncrementalRefusedError,
    take_rows,
)
from arledger.projections.fast.portfolio import SELECT, FastPortfolio, fast_portfolio
from tests.property.test_escalation_properties import Step, histories, policies, run

WITH_SEQ: Final = {
    name: selected if "seq" in selected else (*selected, "seq") for name, selected in SELECT.items()
}
"""The fast path's columns plus ``seq``, to cut the log by it."""
GENERATED_AS_OF: Final = (date(2024, 3, 31), date(2025, 6, 30), date(2025, 12, 31))
"""Inside the generated ledgers' period (2024-2025) and at its end."""


def assert_same(expected: FastPortfolio, actual: FastPortfolio) -> None:
    """Every field of both results equal, every array in values, dtype and shape."""
    assert expected.as_of == actual.as_of
    assert expected.known_at == actual.known_at
    assert expected.policy == actual.policy
    assert expected.ageing_policy == actual.ageing_policy
    assert expected.currencies == actual.currencies
    for part in ("invoices", "customers", "promises"):
        expected_columns = getattr(expected, part)
        actual_columns = getattr(actual, part)
        for field in attrs.fields(type(expected_columns)):
            want = getattr(expected_columns, field.name)
            got = getattr(actual_columns, field.name)
            assert (want.dtype, want.shape) == (got.dtype, got.shape), f"{part}.{field.name}"
            assert np.array_equal(want, got), f"{part}.{field.name}"


def slice_columns(whole: dict[str, dict[str, Any]], after: int, upto: int) -> dict[str, Any]:
    """The same cut made on the whole log's columns (so with the whole log's dictionaries)."""
    return {
        name: take_rows(table, np.flatnonzero((table["seq"] > after) & (table["seq"] <= upto)))
        for name, table in whole.items()
    }


def check_batches(
    log: ColumnarLog,
    cuts: Sequence[int],
    as_of: date,
    *,
    known_at: datetime | None = None,
    ageing_policy: AgeingPolicy | None = None,
    own_dictionaries: bool = True,
) -> None:
    """Base up to ``cuts[0]``, then a batch up to each next cut; after each, the result equals
    a full recompute of the log so far, in the same representation (own or whole
    dictionaries), and the update took the full path exactly when it had to."""
    whole = columns(log, select=WITH_SEQ)

    def part(after: int, upto: int) -> dict[str, Any]:
        if own_dictionaries:
            return columns(log.between(after, upto), select=WITH_SEQ)
        return slice_columns(whole, after, upto)

    def full(upto: int) -> FastPortfolio:
        return fast_portfolio(
            part(0, upto),
            as_of,
            decode_policy=decode_policy,
            known_at=known_at,
            ageing_policy=ageing_policy,
            invoice_buckets=True,
        )

    portfolio = IncrementalPortfolio(
        part(0, cuts[0]),
        as_of,
        decode_policy=decode_policy,
        known_at=known_at,
        ageing_policy=ageing_policy,
        invoice_buckets=True,
        share_full=1.0,
    )
    expected = full(cuts[0])
    assert_same(expected, portfolio.result)
    for after, upto in itertools.pairwise(cuts):
        batch = part(after, upto)
        result = portfolio.apply(batch)
        previous, expected = expected, full(upto)
        assert_same(expected, result)
        policy_rows = int((batch["EscalationPolicyAdopted"]["timestamp"] <= limit(known_at)).sum())
        must_be_full = policy_rows > 0 or previous.currencies != expected.currencies
        assert must_be_full == portfolio.last_update.full


def limit(known_at: datetime | None) -> int:
    """``known_at`` as the columns' microseconds (no limit: the largest timestamp)."""
    if known_at is None:
        return int(np.iinfo(np.int64).max)
    return (known_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def drawn_cuts(data: st.DataObject, total: int) -> list[int]:
    """A base of at least one event and one to three batches ending at the last event."""
    points = data.draw(
        st.lists(st.integers(1, max(total - 1, 1)), min_size=1, max_size=3, unique=True)
    )
    return [*sorted(points), total]


def drawn_known_at(data: st.DataObject, log: ColumnarLog) -> datetime | None:
    stamps = sorted(
        {stamp for table in log.tables.values() for stamp in table["timestamp"].to_pylist()}
    )
    cut = data.draw(st.none() | st.integers(0, len(stamps) - 1))
    return None if cut is None else stamps[cut]


ageing_policies = st.none() | st.builds(
    lambda edges, basis: AgeingPolicy(edges_days=tuple(sorted(edges)), basis=basis),
    st.sets(st.integers(1, 150), min_size=1, max_size=4),
    st.sampled_from(AgeingBasis),
)


@given(
    invoices=st.integers(1, 600),
    seed=st.integers(0, 2**32 - 1),
    as_of=st.sampled_from(GENERATED_AS_OF),
    ageing_policy=ageing_policies,
    own_dictionaries=st.booleans(),
    data=st.data(),
)
def test_batches_of_a_generated_ledger_give_the_full_recompute(
    invoices: int,
    seed: int,
    as_of: date,
    ageing_policy: AgeingPolicy | None,
    own_dictionaries: bool,
    data: st.DataObject,
) -> None:
    log = generate_columnar(invoices, seed)
    cuts = drawn_cuts(data, log.event_count)
    check_batches(
        log,
        cuts,
        as_of,
        known_at=drawn_known_at(data, log),
        ageing_policy=ageing_policy,
        own_dictionaries=own_dictionaries,
    )


@given(
    history=histories,
    policy=policies(),
    effective=st.integers(0, 150),
    offset=st.integers(0, 210),
    own_dictionaries=st.booleans(),
    data=st.data(),
)
def test_batches_of_collections_histories_give_the_full_recompute(
    history: list[Step],
    policy: EscalationPolicy,
    effective: int,
    offset: int,
    own_dictionaries: bool,
    data: st.DataObject,
) -> None:
    """Histories with payments, bounces, disputes, promises, ratings, blacklisting and policy
    versions (a batch holding one is a full recompute: ``check_batches`` checks the path)."""
    ledger = run([*history, Step("adopt", (policy, effective))]).ledger
    log = to_columnar(list(ledger.iter_events()))
    check_batches(
        log,
        drawn_cuts(data, log.event_count),
        date(2025, 1, 1) + timedelta(days=offset),
        known_at=drawn_known_at(data, log),
        own_dictionaries=own_dictionaries,
    )


def portfolio_of(
    log: ColumnarLog, upto: int, as_of: date = date(2025, 12, 31)
) -> IncrementalPortfolio:
    return IncrementalPortfolio(
        columns(log.between(0, upto), select=SELECT),
        as_of,
        decode_policy=decode_policy,
        share_full=1.0,
    )


def full_of(log: ColumnarLog, upto: int, as_of: date = date(2025, 12, 31)) -> FastPortfolio:
    return fast_portfolio(
        columns(log.between(0, upto), select=SELECT), as_of, decode_policy=decode_policy
    )


def test_a_batch_with_new_customers_and_invoices_recomputes_only_its_customers() -> None:
    # Chunks of 20 customers, recorded chunk after chunk: the last third has new customers.
    log = generate_columnar(2_000, 11, chunk_customers=20)
    total = log.event_count
    base = total * 2 // 3
    portfolio = portfolio_of(log, base)
    batch = columns(log.between(base, total), select=SELECT)
    assert len(batch["CustomerAccountOpened"]["originator_id"]) > 0
    assert len(batch["InvoiceIssued"]["originator_id"]) > 0
    customers_before = len(portfolio.result.customers.customer_id)
    result = portfolio.apply(batch)
    assert_same(full_of(log, total), result)
    update = portfolio.last_update
    assert not update.full
    assert update.customers < len(result.customers.customer_id)
    assert len(result.customers.customer_id) > customers_before


def test_an_empty_batch_changes_nothing() -> None:
    log = generate_columnar(300, 3)
    total = log.event_count
    portfolio = portfolio_of(log, total)
    before = full_of(log, total)
    assert_same(before, portfolio.apply(columns(log.between(total, total), select=SELECT)))
    assert 0 == portfolio.last_update.events
    assert_same(before, portfolio.apply({}))
    assert 0 == portfolio.last_update.events


def test_a_policy_version_in_a_batch_recomputes_everyone() -> None:
    stricter = EscalationPolicy(long_after_days=5, large_above_major=1, promise_tolerance_days=9)
    history = [Step("issue", ("I-1", 0, 5_000_000, 0, 10)), Step("issue", ("I-2", 1, 70, 3, 0))]
    ledger = run([*history, Step("adopt", (stricter, 2))]).ledger
    log = to_columnar(list(ledger.iter_events()))
    total = log.event_count
    assert 1 == log.tables["EscalationPolicyAdopted"].num_rows
    as_of = date(2025, 3, 1)
    portfolio = portfolio_of(log, total - 1, as_of)
    result = portfolio.apply(columns(log.between(total - 1, total), select=SELECT))
    assert portfolio.last_update.full
    assert_same(full_of(log, total, as_of), result)
    assert 2 == result.policy_version


def test_a_batch_with_a_new_currency_recomputes_everyone() -> None:
    history = [Step("issue", ("I-1", 0, 5_000_000, 0, 10)), Step("issue", ("I-2", 1, 70, 3, 0))]
    log = to_columnar(list(run(history).ledger.iter_events()))
    # Customer 0 pays in USD, customer 1 in CNY: cut after the first account's opening.
    first_cny = next(
        seq
        for seq, code in zip(
            log.tables["CustomerAccountOpened"]["seq"].to_pylist(),
            log.tables["CustomerAccountOpened"]["currency"].to_pylist(),
            strict=True,
        )
        if code == "CNY"
    )
    total = log.event_count
    portfolio = portfolio_of(log, first_cny - 1, date(2025, 3, 1))
    assert ("USD",) == portfolio.result.currencies
    result = portfolio.apply(columns(log.between(first_cny - 1, total), select=SELECT))
    assert portfolio.last_update.full
    assert_same(full_of(log, total, date(2025, 3, 1)), result)


def test_a_payment_settling_another_customers_invoice_is_refused_and_changes_nothing() -> None:
    log = generate_columnar(300, 5)
    total = log.event_count
    base = total - 200
    portfolio = portfolio_of(log, base)
    before = full_of(log, base)
    batch = columns(log.between(base, total), select=SELECT)
    applied = batch["PaymentApplied"]
    assert len(applied["payment_id"]) > 0
    # Point the batch's first application at a payment of a customer other than the invoice's.
    received = columns(log.between(0, base), select=SELECT)["PaymentReceived"]
    payer_of = dict(
        zip(received["originator_id"].tolist(), received["payer_customer_id"].tolist(), strict=True)
    )
    invoice_customer = dict(
        zip(
            columns(log, select=SELECT)["InvoiceIssued"]["originator_id"].tolist(),
            columns(log, select=SELECT)["InvoiceIssued"]["customer_id"].tolist(),
            strict=True,
        )
    )
    customer = invoice_customer[int(applied["originator_id"][0])]
    other = next(payment for payment, payer in payer_of.items() if payer != customer)
    forged = dict(batch)
    forged["PaymentApplied"] = dict(applied)
    payment_ids = applied["payment_id"].copy()
    payment_ids[0] = other
    forged["PaymentApplied"]["payment_id"] = payment_ids
    with pytest.raises(IncrementalRefusedError) as refused:
        portfolio.apply(forged)
    assert "PaymentApplied" == refused.value.table
    assert_same(before, portfolio.result)
    assert_same(full_of(log, total), portfolio.apply(batch))


def test_a_row_of_an_unknown_aggregate_is_refused_and_changes_nothing() -> None:
    log = generate_columnar(300, 5)
    total = log.event_count
    base = total - 200
    portfolio = portfolio_of(log, base)
    batch = columns(log.between(base, total), select=SELECT)
    forged = dict(batch)
    invoices = dict(batch["InvoiceIssued"])
    customer_ids = invoices["customer_id"].copy()
    assert len(customer_ids) > 0
    customer_ids[-1] = log.ids.num_rows + 5
    invoices["customer_id"] = customer_ids
    forged["InvoiceIssued"] = invoices
    # And a new customer in a new currency, which must not stay behind either.
    opened = batch["CustomerAccountOpened"]
    forged["CustomerAccountOpened"] = {
        "originator_id": np.asarray([log.ids.num_rows + 9], np.int32),
        "timestamp": np.asarray([opened["timestamp"][-1] if len(opened["timestamp"]) else 0]),
        "currency": np.zeros(1, np.int32),
        "currency.dictionary": ("JPY",),
    }
    with pytest.raises(IncrementalRefusedError) as refused:
        portfolio.apply(forged)
    assert "InvoiceIssued" == refused.value.table
    assert_same(full_of(log, base), portfolio.result)
    assert_same(full_of(log, total), portfolio.apply(batch))


def test_batches_merged_into_the_index_after_each_give_the_full_recompute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The by-customer index takes the recent rows in when they pass a share of it: here after
    every batch, so every batch reads merged and recent rows."""
    monkeypatch.setattr(fast_incremental, "RECENT_MIN", 0)
    monkeypatch.setattr(fast_incremental, "RECENT_SHARE", 0.0)
    log = generate_columnar(1_500, 9, chunk_customers=40)
    total = log.event_count
    cuts = [total * step // 6 for step in range(1, 7)]
    check_batches(log, cuts, date(2025, 6, 30), known_at=None)
