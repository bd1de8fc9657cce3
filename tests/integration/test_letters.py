"""Letters (issue 15.4): a balance confirmation (欠款征询函), a demand letter (催款函) and a
statement of account (对账单) written as PDF and HTML, in English and Chinese, with the
ledger's own figures, and recorded as a collection action once written.

HX-01 (上海华星贸易有限公司, CNY, 30 days; payment contact 李明) has FP-1001 120,000.00
(issued 2024-01-10, due 02-09), FP-1002 86,500.50 (02-05, due 03-06) and FP-1003 45,210.00
(03-12, due 04-11); BK-0220 50,000.00 applied to FP-1001 on 02-20; red-letter invoice HZ-0301
6,500.50 on FP-1002 on 03-01. On 2024-03-31 it owes 195,210.00, of which 150,000.00 overdue
(FP-1001 70,000.00, 51 days; FP-1002 80,000.00, 25 days). ACME (USD) owes nothing overdue.

The PDFs are read back with poppler (pdftotext for the text and figures, pdffonts for the
embedded CJK font, pdftoppm for the pages as PNG): under CI=true a missing program fails the
tests, like the PostgreSQL tests; elsewhere they are skipped.
"""

# STYLE.md asks for `assert expected == actual`, which ruff reads as a Yoda condition.

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from arledger import (
    AgeingGrouping,
    CustomerNotFoundError,
    IdempotencyKeyConflictError,
    InvalidChoiceError,
    InvalidCommandError,
    Language,
    Ledger,
    LetterKind,
    LetterOutputError,
    LetterTemplateError,
    Money,
)
from arledger.adapters.cli.app import app
from arledger.adapters.documents.render import render_html
from arledger.domain.errors import CustomerStateError, InvalidDateError, PlaintextOutputError
from arledger.domain.events import ActionChannel, ContactRole, CreditNoteApplied
from tests.conftest import FixedClock

AS_OF = date(2024, 3, 31)
SENT_ON = date(2024, 4, 2)
CODE = "HX-01"
NAME = "上海华星贸易有限公司"


def cny(text: str) -> Money:
    return Money.parse(text, "CNY")


def record_example(ledger: Ledger) -> None:
    ledger.open_account(
        CODE,
        name=NAME,
        currency="CNY",
        collection_owner="王芳",
        opened_on=date(2024, 1, 1),
        terms_days=30,
    )
    ledger.set_key_contact(
        customer_code=CODE,
        role=ContactRole.PAYMENT_RESPONSIBLE,
        name="李明",
        set_on=date(2024, 1, 1),
    )
    ledger.issue_invoice(
        "FP-1001", customer_code=CODE, amount=cny("120000.00"), issued_on=date(2024, 1, 10)
    )
    ledger.issue_invoice(
        "FP-1002", customer_code=CODE, amount=cny("86500.50"), issued_on=date(2024, 2, 5)
    )
    ledger.issue_invoice(
        "FP-1003", customer_code=CODE, amount=cny("45210.00"), issued_on=date(2024, 3, 12)
    )
    ledger.receive_payment(
        "BK-0220", payer_code=CODE, amount=cny("50000.00"), value_on=date(2024, 2, 20)
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
    ledger.open_account(
        "ACME", name="Acme <Ltd>", currency="USD", collection_owner="li", opened_on=date(2024, 1, 1)
    )
    ledger.issue_invoice(
        "A-1", customer_code="ACME", amount=Money.parse("99.00", "USD"), issued_on=date(2024, 3, 20)
    )


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """The example replayed in memory, and on SQLite and PostgreSQL (the query engine's
    columnar log)."""
    if request.param == "memory":
        env = {"ARLEDGER_STORE": "memory"}
    elif request.param == "sqlite":
        env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    else:
        env = request.getfixturevalue("postgres_schema")
    result = Ledger(env=env, clock=FixedClock())
    record_example(result)
    yield result
    result.close()


@pytest.fixture
def memory_ledger() -> Ledger:
    result = Ledger(env={"ARLEDGER_STORE": "memory"}, clock=FixedClock())
    record_example(result)
    return result


def require_program(name: str) -> str:
    """The program's path; a missing one fails under CI=true, and is skipped elsewhere."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (Debian poppler-utils; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"CI=true needs {name}: {reason}")
        pytest.skip(reason)
    return path


def pdf_text(path: Path) -> str:
    result = subprocess.run(
        [require_program("pdftotext"), "-layout", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def pdf_fonts(path: Path) -> str:
    result = subprocess.run(
        [require_program("pdffonts"), str(path)], check=True, capture_output=True, text=True
    )
    return result.stdout


def pdf_pages(path: Path, directory: Path) -> list[Path]:
    """The PDF's pages as PNG files (pdftoppm at 50 dpi), in order."""
    prefix = directory / path.stem
    subprocess.run(
        [require_program("pdftoppm"), "-r", "50", "-png", str(path), str(prefix)],
        check=True,
        capture_output=True,
    )
    return sorted(directory.glob(f"{path.stem}-*.png"))


def ink(page: Path) -> float:
    """The share of a page's pixels that are dark: text and rules, not a blank page."""
    with Image.open(page) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
    dark = sum(histogram[:128])
    return dark / sum(histogram)


# The figures: the Ledger's own answers ---------------------------------------------------------


def test_a_letter_carries_the_statement_ageing_and_open_invoices_the_ledger_answers(
    ledger: Ledger,
) -> None:
    letter = ledger.letter(LetterKind.CONFIRMATION, CODE, AS_OF, dated_on=SENT_ON)

    assert ledger.statement(CODE, date(2024, 1, 1), AS_OF) == letter.statement
    ageing = ledger.ageing(AS_OF, grouping=AgeingGrouping.CUSTOMER)
    (row,) = [row for row in ageing.rows if row.key == CODE]
    assert row.open_minor == letter.balance_minor == 19_521_000
    assert row.overdue_minor == letter.overdue_minor == 15_000_000
    assert ["FP-1001", "FP-1002", "FP-1003"] == [i.invoice_number for i in letter.open_invoices]
    assert [7_000_000, 8_000_000, 4_521_000] == [i.open_minor for i in letter.open_invoices]
    assert [51, 25, 0] == [i.days_past_due for i in letter.open_invoices]
    assert ["FP-1001", "FP-1002"] == [i.invoice_number for i in letter.overdue_invoices]
    assert "李明" == letter.contact
    assert "王芳" == letter.collection_owner
    assert "BC-HX-01-20240331" == letter.reference
    assert None is letter.pay_by_on


def test_a_letter_as_the_ledger_could_have_written_it_before_the_credit_note(
    ledger: Ledger,
) -> None:
    (applied,) = [e for e in ledger.iter_events() if isinstance(e, CreditNoteApplied)]
    known_at = applied.timestamp - timedelta(microseconds=1)

    then = ledger.letter(LetterKind.STATEMENT, CODE, AS_OF, known_at=known_at)

    assert ledger.statement(CODE, date(2024, 1, 1), AS_OF, known_at=known_at) == then.statement
    assert then.statement.as_of_log is not None
    now = ledger.letter(LetterKind.STATEMENT, CODE, AS_OF)
    assert now.balance_minor + 650_050 == then.balance_minor
    assert "HZ-0301" not in [line.reference for line in then.statement.lines]
    assert "HZ-0301" in [line.reference for line in now.statement.lines]


def test_a_demand_letter_asks_the_overdue_total_by_a_week_after_its_date_by_default(
    memory_ledger: Ledger,
) -> None:
    default = memory_ledger.letter(LetterKind.DEMAND, CODE, AS_OF, dated_on=SENT_ON)
    chosen = memory_ledger.letter(
        LetterKind.DEMAND, CODE, AS_OF, dated_on=SENT_ON, pay_by_on=date(2024, 4, 30)
    )

    assert date(2024, 4, 9) == default.pay_by_on
    assert date(2024, 4, 30) == chosen.pay_by_on
    assert 15_000_000 == default.overdue_minor


def test_a_statement_letter_starts_where_asked(memory_ledger: Ledger) -> None:
    letter = memory_ledger.letter(LetterKind.STATEMENT, CODE, AS_OF, from_on=date(2024, 3, 1))

    assert memory_ledger.statement(CODE, date(2024, 3, 1), AS_OF) == letter.statement
    assert 15_650_050 == letter.statement.opening_balance_minor  # FP-1001 70,000.00 + FP-1002
    assert AS_OF == letter.dated_on


@pytest.mark.parametrize(
    ("kind", "options", "error"),
    [
        (LetterKind.DEMAND, {"customer_code": "ACME"}, CustomerStateError),  # nothing overdue
        (LetterKind.DEMAND, {"dated_on": date(2024, 3, 30)}, InvalidDateError),  # before as_of
        (LetterKind.DEMAND, {"pay_by_on": SENT_ON}, InvalidDateError),  # not after its date
        (LetterKind.STATEMENT, {"pay_by_on": date(2024, 5, 1)}, InvalidCommandError),
        (LetterKind.STATEMENT, {"from_on": date(2024, 4, 1)}, InvalidDateError),  # after as_of
        (LetterKind.STATEMENT, {"customer_code": "NOBODY"}, CustomerNotFoundError),
        ("demand", {}, InvalidChoiceError),  # text is the caller's to parse
    ],
)
def test_a_letter_that_cannot_be_written_is_refused_with_nothing_written_or_recorded(
    memory_ledger: Ledger, tmp_path: Path, kind: LetterKind, options: dict[str, object], error: type
) -> None:
    code = str(options.pop("customer_code", CODE))
    dated_on = options.pop("dated_on", SENT_ON)
    out = tmp_path / "letter.html"
    before = list(memory_ledger.iter_events())

    with pytest.raises(error):
        memory_ledger.send_letter(kind, code, AS_OF, out, sent_on=dated_on, **options)  # type: ignore[arg-type]

    assert not out.exists()
    assert [] == list(tmp_path.iterdir())
    assert before == list(memory_ledger.iter_events())


# PDF: text, figures, fonts and pages ----------------------------------------------------------

EXPECTED_TEXT = {
    (LetterKind.CONFIRMATION, Language.ZH): ["欠款征询函", NAME, "截至2024年3月31日", "195,210.00",
                                              "数据证明无误", "盖章", "-50,000.00", "BK-0220",
                                              "壹拾玖万伍仟贰佰壹拾元整"],
    (LetterKind.CONFIRMATION, Language.EN): ["Balance Confirmation", NAME, "31 March 2024",
                                              "195,210.00", "stamp", "HZ-0301", "-6,500.50"],
    (LetterKind.DEMAND, Language.ZH): ["催款函", NAME, "150,000.00", "2024年4月9日", "FP-1001",
                                        "70,000.00", "51", "195,210.00", "壹拾伍万元整"],
    (LetterKind.DEMAND, Language.EN): ["Demand for Payment", NAME, "150,000.00", "9 April 2024",
                                        "FP-1002", "80,000.00", "25"],
    (LetterKind.STATEMENT, Language.ZH): ["对账单", NAME, "期初余额", "期末余额", "195,210.00",
                                           "2024年1月10日", "120,000.00", "红字发票"],
    (LetterKind.STATEMENT, Language.EN): ["Statement of Account", NAME, "Opening balance",
                                           "Closing balance", "195,210.00", "10 January 2024"],
}  # fmt: skip


@pytest.mark.parametrize(("kind", "language"), sorted(EXPECTED_TEXT, key=str))
def test_each_letter_prints_to_pdf_with_its_figures_dates_and_the_cjk_font(
    memory_ledger: Ledger, tmp_path: Path, kind: LetterKind, language: Language
) -> None:
    out = tmp_path / f"{kind.value}-{language.value}.pdf"

    sent = memory_ledger.send_letter(
        kind, CODE, AS_OF, out, language=language, sent_on=SENT_ON, sender="苏州恒达机械有限公司"
    )

    assert out.read_bytes().startswith(b"%PDF-")
    assert out.stat().st_size == sent.size_bytes
    text = pdf_text(out)
    for expected in [*EXPECTED_TEXT[kind, language], sent.letter.reference, "苏州恒达机械有限公司"]:
        assert expected in text, f"{expected!r} not in the PDF's text"
    # Chinese prints as characters only in a CJK font: the name is set in Noto CJK, embedded.
    fonts = pdf_fonts(out)
    assert "Noto-Sans-CJK-SC" in fonts or "Noto-Serif-CJK-SC" in fonts, fonts
    pages = pdf_pages(out, tmp_path)
    assert 1 <= len(pages) <= 2
    for page in pages:
        with Image.open(page) as image:
            assert (414, 585) == image.size  # A4 at 50 dpi
    assert ink(pages[0]) > 0.01


def test_a_long_statement_breaks_over_pages_with_every_line(
    memory_ledger: Ledger, tmp_path: Path
) -> None:
    for number in range(60):
        memory_ledger.issue_invoice(
            f"FP-2{number:03d}",
            customer_code=CODE,
            amount=cny(f"{1000 + number}.25"),
            issued_on=date(2024, 3, 25),
        )
    out = tmp_path / "long.pdf"

    sent = memory_ledger.send_letter(LetterKind.STATEMENT, CODE, AS_OF, out, language=Language.ZH)

    text = pdf_text(out)
    assert all(f"FP-2{number:03d}" in text for number in range(60))
    assert f"{sent.letter.balance_minor // 100:,}.{sent.letter.balance_minor % 100:02d}" in text
    pages = pdf_pages(out, tmp_path)
    assert len(pages) >= 3
    assert all(ink(page) > 0.005 for page in pages)


# HTML --------------------------------------------------------------------------------------


def test_the_html_letter_is_self_contained_and_escapes_the_ledgers_text(
    memory_ledger: Ledger, tmp_path: Path
) -> None:
    out = tmp_path / "statement.html"

    memory_ledger.send_letter(LetterKind.STATEMENT, "ACME", AS_OF, out)

    html = out.read_text(encoding="utf-8")
    assert "Acme &lt;Ltd&gt;" in html
    assert "Acme <Ltd>" not in html
    assert "99.00" in html
    for reference in ("http:", "https:", "<link", "<script", "src="):
        assert reference not in html


# Recording the letter as sent ------------------------------------------------------------------


def test_a_demand_letter_is_recorded_as_a_demand_letter_action_with_its_follow_up(
    ledger: Ledger, tmp_path: Path
) -> None:
    sent = ledger.send_letter(
        LetterKind.DEMAND, CODE, AS_OF, tmp_path / "demand.pdf", sent_on=SENT_ON
    )

    assert sent.recorded
    (action,) = ledger.collection_case(CODE, SENT_ON).actions
    assert ActionChannel.DEMAND_LETTER == action.channel
    assert SENT_ON == action.taken_on
    assert "王芳" == action.collector
    assert "李明" == action.contact
    assert "demand letter DL-HX-01-20240331" in action.outcome
    assert "150,000.00 CNY" in action.outcome
    assert date(2024, 4, 10) == action.next_step_on


def test_a_confirmation_letter_is_recorded_as_a_balance_confirmation_and_an_action(
    ledger: Ledger, tmp_path: Path
) -> None:
    ledger.send_letter(LetterKind.CONFIRMATION, CODE, AS_OF, tmp_path / "bc.html", sent_on=SENT_ON)

    (confirmation,) = ledger.balance_confirmations(CODE)
    assert "BC-HX-01-20240331" == confirmation.reference
    assert 19_521_000 == confirmation.ledger_balance_minor
    assert date(2024, 1, 1) == confirmation.statement_from_on
    assert len(ledger.statement(CODE, date(2024, 1, 1), AS_OF).lines) == (
        confirmation.statement_lines
    )
    (action,) = ledger.collection_case(CODE, SENT_ON).actions
    assert ActionChannel.FINANCE_LETTER == action.channel
    assert "balance confirmation letter BC-HX-01-20240331" in action.outcome
    # The customer's stamped reply is acknowledged against the letter's number.
    ledger.acknowledge_balance_confirmation(
        customer_code=CODE,
        confirmation_reference="BC-HX-01-20240331",
        confirmed_balance=cny("195210.00"),
        acknowledged_on=date(2024, 4, 10),
    )
    assert 0 == ledger.balance_confirmations(CODE)[0].difference_minor


def test_sending_the_same_letter_the_same_day_writes_the_file_and_records_nothing_again(
    memory_ledger: Ledger, tmp_path: Path
) -> None:
    first = memory_ledger.send_letter(
        LetterKind.STATEMENT, CODE, AS_OF, tmp_path / "one.pdf", sent_on=SENT_ON
    )
    events = list(memory_ledger.iter_events())

    again = memory_ledger.send_letter(
        LetterKind.STATEMENT, CODE, AS_OF, tmp_path / "two.html", sent_on=SENT_ON,
        language=Language.ZH,
    )  # fmt: skip

    assert first.recorded
    assert not again.recorded
    assert first.events == again.events
    assert events == list(memory_ledger.iter_events())
    assert (tmp_path / "two.html").exists()
    assert 1 == len(memory_ledger.collection_case(CODE, SENT_ON).actions)


def test_the_same_letter_kind_the_same_day_with_other_figures_is_refused_without_a_file(
    memory_ledger: Ledger, tmp_path: Path
) -> None:
    memory_ledger.send_letter(LetterKind.DEMAND, CODE, AS_OF, tmp_path / "a.pdf", sent_on=SENT_ON)
    events = list(memory_ledger.iter_events())

    with pytest.raises(IdempotencyKeyConflictError, match="already recorded with other"):
        memory_ledger.send_letter(
            LetterKind.DEMAND, CODE, date(2024, 3, 30), tmp_path / "b.pdf", sent_on=SENT_ON
        )

    assert events == list(memory_ledger.iter_events())
    assert ["a.pdf"] == sorted(path.name for path in tmp_path.iterdir())


def test_an_output_it_cannot_write_is_refused_before_anything_is_recorded(
    memory_ledger: Ledger, tmp_path: Path
) -> None:
    existing = tmp_path / "kept.pdf"
    existing.write_bytes(b"earlier letter")
    events = list(memory_ledger.iter_events())

    for out in (existing, tmp_path / "letter.docx", tmp_path / "missing" / "letter.pdf", tmp_path):
        with pytest.raises(LetterOutputError):
            memory_ledger.send_letter(LetterKind.STATEMENT, CODE, AS_OF, out)

    assert events == list(memory_ledger.iter_events())
    assert b"earlier letter" == existing.read_bytes()
    assert ["kept.pdf"] == sorted(path.name for path in tmp_path.iterdir())
    replaced = memory_ledger.send_letter(
        LetterKind.STATEMENT, CODE, AS_OF, existing, overwrite=True
    )
    assert replaced.recorded
    assert existing.read_bytes().startswith(b"%PDF-")


def test_an_encrypted_store_writes_a_letter_only_when_plaintext_is_asked_for(
    tmp_path: Path,
) -> None:
    from eventsourcing.cipher import AESCipher

    env = {
        "ARLEDGER_STORE": "sqlite",
        "ARLEDGER_DB": str(tmp_path / "ledger.db"),
        "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(32),
    }
    encrypted = Ledger(env=env, clock=FixedClock())
    record_example(encrypted)
    events = list(encrypted.iter_events())
    out = tmp_path / "statement.html"

    with pytest.raises(PlaintextOutputError):
        encrypted.send_letter(LetterKind.STATEMENT, CODE, AS_OF, out)

    assert not out.exists()
    assert events == list(encrypted.iter_events())
    assert encrypted.send_letter(LetterKind.STATEMENT, CODE, AS_OF, out, plaintext=True).recorded
    assert NAME in out.read_text(encoding="utf-8")
    encrypted.close()


# Templates a company replaces ---------------------------------------------------------------


def test_a_company_template_replaces_the_packages_one_by_one(
    memory_ledger: Ledger, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "letterhead.html").write_text(
        '<div class="letterhead">SUZHOU HENGDA MACHINERY CO., LTD. Bank: ICBC 1001 2345</div>',
        encoding="utf-8",
    )
    (templates / "demand.en.html").write_text(
        '{% extends "base.html" %}{% block body %}PAY {{ letter.currency }} '
        "{{ money(letter.overdue_minor) }} BY {{ day(letter.pay_by_on) }}{% endblock %}",
        encoding="utf-8",
    )
    out = tmp_path / "demand.html"

    memory_ledger.send_letter(
        LetterKind.DEMAND, CODE, AS_OF, out, template_dir=templates, sent_on=SENT_ON
    )

    html = out.read_text(encoding="utf-8")
    assert "SUZHOU HENGDA MACHINERY CO., LTD. Bank: ICBC 1001 2345" in html
    assert "PAY CNY 150,000.00 BY 9 April 2024" in html
    assert "@page" in html  # base.html, still the package's


def test_a_company_logo_beside_its_templates_is_printed_and_nothing_is_fetched_from_a_network(
    memory_ledger: Ledger, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    Image.new("RGB", (120, 40), (29, 53, 87)).save(templates / "logo.png")
    # A listener on the loopback: the template names it, and the printing must not connect.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        (templates / "letterhead.html").write_text(
            f'<img src="logo.png"> <img src="http://127.0.0.1:{port}/tracker.png"> HENGDA',
            encoding="utf-8",
        )
        out = tmp_path / "statement.pdf"

        memory_ledger.send_letter(LetterKind.STATEMENT, CODE, AS_OF, out, template_dir=templates)

        with pytest.raises(BlockingIOError):
            listener.accept()
    assert "HENGDA" in pdf_text(out)
    images = subprocess.run(
        [require_program("pdfimages"), "-list", str(out)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert 1 == len(images.strip().splitlines()[2:]), images  # the logo, one image
    assert " 120    40 " in images


def test_a_template_edited_while_the_ledger_runs_is_read_again(
    memory_ledger: Ledger, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    template = templates / "statement.en.html"
    template.write_text("first {{ letter.reference }}", encoding="utf-8")
    letter = memory_ledger.letter(LetterKind.STATEMENT, CODE, AS_OF)
    first = render_html(letter, Language.EN, template_dir=templates)
    template.write_text("second {{ letter.reference }}", encoding="utf-8")
    stat = template.stat()
    os.utime(template, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))

    second = render_html(letter, Language.EN, template_dir=templates)

    assert "first SOA-HX-01-20240331" == first
    assert "second SOA-HX-01-20240331" == second


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ letter.no_such_figure }}", "no_such_figure"),
        ("{% if %}", "line 1"),
    ],
)
def test_a_broken_template_is_refused_with_nothing_written_or_recorded(
    memory_ledger: Ledger, tmp_path: Path, template: str, message: str
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "statement.en.html").write_text(template, encoding="utf-8")
    out = tmp_path / "statement.pdf"
    events = list(memory_ledger.iter_events())

    with pytest.raises(LetterTemplateError, match=message):
        memory_ledger.send_letter(LetterKind.STATEMENT, CODE, AS_OF, out, template_dir=templates)

    assert not out.exists()
    assert ["templates"] == [path.name for path in tmp_path.iterdir()]
    assert events == list(memory_ledger.iter_events())


# The command line -----------------------------------------------------------------------------


def test_arledger_letter_writes_the_pdf_records_it_and_says_so_when_run_again(
    tmp_path: Path,
) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    seeded = Ledger(env=env, clock=FixedClock())
    record_example(seeded)
    seeded.close()
    runner = CliRunner()
    command = ["letter", "demand", CODE, "--as-of", "2024-03-31", "--sent-on", "2024-04-02",
               "--language", "zh", "--pay-by", "2024-04-15"]  # fmt: skip

    first = runner.invoke(app, [*command, "--out", str(tmp_path / "催款函.pdf")], env=env)
    again = runner.invoke(app, [*command, "--out", str(tmp_path / "again.pdf")], env=env)

    assert 0 == first.exit_code, first.output
    assert "DL-HX-01-20240331" in first.stdout
    assert "150,000.00 CNY" in first.stdout
    assert "recorded as sent on 2024-04-02" in first.stdout
    assert "2024年4月15日" in pdf_text(tmp_path / "催款函.pdf")
    assert 0 == again.exit_code, again.output
    assert "already recorded" in again.stdout
    statement = runner.invoke(
        app,
        ["letter", "statement", CODE, "--as-of", "2024-03-31", "--from", "2024-03-01",
         "--out", str(tmp_path / "soa.html")],
        env=env,
    )  # fmt: skip
    assert 0 == statement.exit_code, statement.output
    html = (tmp_path / "soa.html").read_text(encoding="utf-8")
    assert "1 March 2024" in html
    assert "156,500.50" in html  # the opening balance on 1 March
    assert "BK-0220" not in html  # the payment of 20 February is before the period
    ledger = Ledger(env=env)
    actions = ledger.collection_case(CODE, SENT_ON).actions
    # The demand letter once (its second run recorded nothing), then the statement.
    expected = [ActionChannel.DEMAND_LETTER, ActionChannel.FINANCE_LETTER]
    assert expected == [action.channel for action in actions]
    ledger.close()


@pytest.mark.parametrize(
    ("arguments", "exit_code", "message"),
    [
        (["statement", CODE, "--out", "x.docx"], 2, ".pdf or .html"),
        (["statement", "NOBODY", "--out", "x.pdf"], 1, "no customer account 'NOBODY'"),
        (["demand", "ACME", "--out", "x.pdf"], 1, "nothing overdue"),
        (["statement", CODE, "--out", "x.pdf", "--template-dir", "nowhere"], 2, "not a folder"),
    ],
)
def test_arledger_letter_refusals_are_one_line_and_leave_no_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
    exit_code: int,
    message: str,
) -> None:
    env = {"ARLEDGER_STORE": "sqlite", "ARLEDGER_DB": str(tmp_path / "ledger.db")}
    seeded = Ledger(env=env, clock=FixedClock())
    record_example(seeded)
    seeded.close()
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["letter", *arguments, "--as-of", "2024-03-31"], env=env)

    assert exit_code == result.exit_code, result.output
    assert message in result.stderr
    assert 1 == len(result.stderr.strip().splitlines())
    assert not list(tmp_path.glob("x.*"))


def test_the_readmes_example_letters_are_regenerated_by_the_documented_command(
    tmp_path: Path,
) -> None:
    require_program("pdftoppm")
    script = Path(__file__).resolve().parents[2] / "docs" / "make_letter_examples.py"

    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], check=True, capture_output=True, text=True
    )

    names = ["letter-confirmation-zh.png", "letter-demand-en.png"]
    assert [str(tmp_path / name) for name in names] == result.stdout.split()
    for name in names:
        with Image.open(tmp_path / name) as image:
            assert (662, 936) == image.size  # A4 at 80 dpi
        assert ink(tmp_path / name) > 0.01
