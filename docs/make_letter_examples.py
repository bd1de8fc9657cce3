"""Regenerate the README's example letters: docs/letter-confirmation-zh.png and
docs/letter-demand-en.png (page 1 of each PDF, by poppler's pdftoppm).

    .venv/bin/python docs/make_letter_examples.py [OUT_DIR]

A hand-built ledger in memory (one customer, three invoices, a payment, a red-letter invoice),
letters written by ``Ledger.send_letter`` exactly as ``arledger letter`` writes them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from arledger import Language, Ledger, LetterKind, Money
from arledger.domain.events import ContactRole

DOCS = Path(__file__).resolve().parent
PAGE_DPI = 80
"""A4 at 80 dpi is 662 x 936 pixels: readable on a screen, about 150 KB a page."""


def cny(text: str) -> Money:
    return Money.parse(text, "CNY")


def example_ledger() -> Ledger:
    instants = iter(datetime(2024, 4, 2, tzinfo=UTC) + timedelta(seconds=n) for n in range(1000))
    ledger = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=lambda: next(instants))
    ledger.open_account(
        "HX-01",
        name="上海华星贸易有限公司",
        currency="CNY",
        collection_owner="王芳",
        opened_on=date(2024, 1, 1),
        terms_days=30,
    )
    ledger.set_key_contact(
        customer_code="HX-01",
        role=ContactRole.PAYMENT_RESPONSIBLE,
        name="李明",
        set_on=date(2024, 1, 1),
    )
    for number, amount, issued_on in (
        ("FP-1001", "120000.00", date(2024, 1, 10)),
        ("FP-1002", "86500.50", date(2024, 2, 5)),
        ("FP-1003", "45210.00", date(2024, 3, 12)),
    ):
        ledger.issue_invoice(number, customer_code="HX-01", amount=cny(amount), issued_on=issued_on)
    ledger.receive_payment(
        "BK-0220", payer_code="HX-01", amount=cny("50000.00"), value_on=date(2024, 2, 20)
    )
    ledger.allocate_payment("BK-0220", {"FP-1001": cny("50000.00")})
    ledger.apply_credit_note(
        "FP-1002",
        credit_note_number="HZ-0301",
        amount=cny("6500.50"),
        applied_on=date(2024, 3, 1),
        reason="质量折让",
        approver="cfo",
    )
    return ledger


def main(out_dir: Path) -> list[Path]:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise SystemExit("pdftoppm is missing: apt-get install poppler-utils")
    ledger = example_ledger()
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        for kind, language in (
            (LetterKind.CONFIRMATION, Language.ZH),
            (LetterKind.DEMAND, Language.EN),
        ):
            name = f"letter-{kind.value}-{language.value}"
            pdf = Path(scratch) / f"{name}.pdf"
            ledger.send_letter(
                kind,
                "HX-01",
                date(2024, 3, 31),
                pdf,
                language=language,
                sent_on=date(2024, 4, 2),
                sender="苏州恒达机械有限公司"
                if language is Language.ZH
                else "Suzhou Hengda Machinery Co., Ltd.",
            )
            prefix = out_dir / name
            subprocess.run(
                [
                    pdftoppm,
                    "-r",
                    str(PAGE_DPI),
                    "-png",
                    "-singlefile",
                    "-f",
                    "1",
                    str(pdf),
                    str(prefix),
                ],
                check=True,
            )
            written.append(prefix.with_suffix(".png"))
    return written


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS):
        print(path)
