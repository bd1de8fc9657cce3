"""Replaying a customer account grows with its invoices, not with their square.

Every command on a customer loads its account by replaying its events (and ``arledger verify``
replays every account). Generated books hold customers of ~22,000 invoices; when the account
copied its tuple of invoice ids at each ``InvoiceAddedToAccount`` that replay took 5.5 s of CPU.

Measured: the median seconds of ``customer.fold`` over an account of ``SMALL`` invoices and of
``LARGE = 4 * SMALL`` invoices, in the same run. Linear work gives a ratio near 4, quadratic
near 16; asserted: at most ``RATIO_MAX`` (far from both, so load on the machine does not decide).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Final

import pytest

from arledger.domain import customer
from arledger.domain.events import (
    CustomerAccountOpened,
    Event,
    InvoiceAddedToAccount,
    PaymentTermsKind,
)
from benchmarks.timing import median_s

SMALL: Final = 2_000
LARGE: Final = 4 * SMALL
ROUNDS: Final = 5
RATIO_MAX: Final = 8.0


def account_events(invoices: int) -> list[Event]:
    account_id = uuid.uuid4()
    recorded_at = datetime(2024, 1, 1, tzinfo=UTC)
    opened: list[Event] = [
        CustomerAccountOpened(
            originator_id=account_id,
            originator_version=1,
            timestamp=recorded_at,
            customer_code="GIANT",
            name="Giant Trading",
            currency="USD",
            collection_owner="li",
            terms_kind=PaymentTermsKind.NET,
            terms_days=30,
            opened_on=date(2024, 1, 1),
        )
    ]
    return opened + [
        InvoiceAddedToAccount(
            originator_id=account_id,
            originator_version=2 + index,
            timestamp=recorded_at,
            invoice_id=uuid.uuid4(),
            invoice_number=f"INV-{index}",
        )
        for index in range(invoices)
    ]


@pytest.mark.benchmark(group="account-replay")
def test_account_replay_is_linear_in_its_invoices(benchmark: Any) -> None:
    small, large = account_events(SMALL), account_events(LARGE)
    replayed = benchmark.pedantic(customer.fold, args=(large,), rounds=ROUNDS, iterations=1)
    assert replayed is not None
    assert LARGE == len(replayed.invoice_ids)
    assert len(set(replayed.invoice_ids)) == LARGE
    small_s = median_s(lambda: customer.fold(small), ROUNDS)
    large_s = median_s(lambda: customer.fold(large), ROUNDS)
    ratio = large_s / small_s
    benchmark.extra_info.update(small_s=small_s, large_s=large_s, ratio=ratio)
    print(f"account replay: {SMALL:,} invoices {small_s:.3f} s, {LARGE:,} {large_s:.3f} s")
    assert ratio <= RATIO_MAX, (small_s, large_s)
