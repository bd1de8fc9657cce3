"""Letters as documents: a ``Letter``'s figures through a Jinja2 template to HTML, and to PDF.

Templates are looked up by name, first in the company's folder (``template_dir``), then in the
package's ``templates/``: a company replaces one template (its letterhead, the wording of the
demand letter in Chinese) and keeps the others. A letter's template is ``{kind}.{language}.html``
(``demand.zh.html``); they extend ``base.html`` (page, fonts, letterhead) and use the tables of
``tables.html``. Variables a template names and the letter does not have are errors
(``StrictUndefined``), so a mistyped field fails the rendering instead of printing nothing.
Text from the ledger is escaped (autoescape): a customer named ``<b>`` prints as written.

PDF is printed by WeasyPrint, in this process, with the fonts fontconfig finds: the templates
ask for Noto CJK (Debian's ``fonts-noto-cjk``) so that Chinese prints as characters. Chosen by
measurement against headless Chromium's ``--print-to-pdf`` on a 60-line letter in Chinese
(median of 5, this machine): WeasyPrint 0.81 s, Chromium 3.05 s (a browser started per
document), and WeasyPrint embeds the CJK font as a subset CID font where Chromium wrote
Type 3 glyph procedures. Invariant: the same letter, template and language give the same HTML.
"""

from __future__ import annotations

import enum
import functools
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Final

import jinja2

from arledger.domain.errors import LetterOutputError, LetterTemplateError
from arledger.domain.money import format_minor
from arledger.projections.letters import Letter, LetterKind
from arledger.projections.statement import MovementKind

TEMPLATES: Final = Path(__file__).parent / "templates"
"""The default templates, shipped with the package (package data)."""


class Language(enum.Enum):
    """The languages letters are written in; stored by value."""

    EN = "en"
    ZH = "zh"


class DocumentFormat(enum.Enum):
    """What a letter is written as, told by the output file's suffix."""

    HTML = "html"
    PDF = "pdf"


ENVIRONMENTS_MAX: Final = 16
"""Template folders whose compiled templates are kept (one per company's folder in use)."""

PDF_SUFFIX: Final = ".pdf"
HTML_SUFFIX: Final = ".html"


def document_format(path: Path) -> DocumentFormat:
    """The format the file's suffix names (``.pdf``, ``.html``, any case).

    Raises:
        LetterOutputError: any other suffix.
    """
    suffix = path.suffix.lower()
    if suffix == PDF_SUFFIX:
        return DocumentFormat.PDF
    if suffix in (HTML_SUFFIX, ".htm"):
        return DocumentFormat.HTML
    raise LetterOutputError(
        f"a letter is written as .pdf or .html; {str(path)!r} names neither: nothing written "
        "or recorded",
        path=str(path),
        conflict="suffix",
    )


def template_name(kind: LetterKind, language: Language) -> str:
    return f"{kind.value}.{language.value}.html"


def environment(template_dir: Path | None) -> jinja2.Environment:
    """Templates from ``template_dir`` first, then the package's.

    Raises:
        LetterTemplateError: ``template_dir`` is not a folder.
    """
    if template_dir is not None and not template_dir.is_dir():
        raise LetterTemplateError(
            f"the template folder {str(template_dir)!r} is not a folder: nothing written or "
            "recorded",
            path=str(template_dir),
        )
    return _environment(template_dir)


@functools.lru_cache(maxsize=ENVIRONMENTS_MAX)
def _environment(template_dir: Path | None) -> jinja2.Environment:
    """One environment per folder, kept: it keeps the templates it compiled (compiling them
    again for every letter cost about 70 ms of a 70 ms HTML letter), and its loaders check each
    file's modification time on use, so a template edited while a service runs is read again."""
    loaders: list[jinja2.BaseLoader] = []
    if template_dir is not None:
        loaders.append(jinja2.FileSystemLoader(template_dir))
    loaders.append(jinja2.FileSystemLoader(TEMPLATES))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(
    letter: Letter,
    language: Language,
    *,
    template_dir: Path | None = None,
    sender: str = "",
) -> str:
    """The letter as one self-contained HTML page (styles inline, no request when opened).

    Raises:
        LetterTemplateError: the template is missing, invalid, or fails while rendering.
    """
    name = template_name(letter.kind, language)
    env = environment(template_dir)
    words = WORDS[language]
    context = {
        "letter": letter,
        "statement": letter.statement,
        "language": language.value,
        "sender": sender,
        "words": words,
        "money": lambda amount_minor: grouped(amount_minor, letter.currency),
        "day": DAY_FORMATS[language],
        "kind_word": lambda kind: words["movement"][kind.value],
        "bucket_word": lambda label: bucket_label(label, language),
        # Capital numerals are yuan, jiao and fen: for other currencies the function is empty.
        "capital": lambda amount_minor: (
            chinese_capital(amount_minor) if letter.currency == "CNY" and amount_minor >= 0 else ""
        ),
    }
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateNotFound as error:
        raise LetterTemplateError(
            f"no template {error.name!r} in {_where(template_dir)}: nothing written or recorded",
            template=str(error.name),
            path=None if template_dir is None else str(template_dir),
        ) from None
    except jinja2.TemplateError as error:
        place = f" line {error.lineno}" if isinstance(error, jinja2.TemplateSyntaxError) else ""
        raise LetterTemplateError(
            f"template {name!r}{place} in {_where(template_dir)} cannot be used: {error.message}; "
            "nothing written or recorded",
            template=name,
            path=None if template_dir is None else str(template_dir),
        ) from None


def render_pdf(html: str, *, base: Path | None = None) -> bytes:
    """Print the HTML to PDF (A4, as its styles say) with WeasyPrint.

    Relative URLs (``<img src="logo.png">``) are read from ``base``, the company's template
    folder (default: the package's). Imported here, not at the top: WeasyPrint loads Pango
    through its C library when imported (about 0.5 s), which other commands should not pay for.
    """
    import weasyprint

    # Files (a logo beside a company's templates) and data: URLs only: a template naming an
    # http(s) resource gets nothing, so printing a letter never makes a network request.
    fetcher = weasyprint.URLFetcher(allowed_protocols={"file", "data"})
    document = weasyprint.HTML(string=html, base_url=str(base or TEMPLATES), url_fetcher=fetcher)
    pdf = document.write_pdf()
    assert isinstance(pdf, bytes)
    return pdf


def render(
    letter: Letter,
    language: Language,
    output: DocumentFormat,
    *,
    template_dir: Path | None = None,
    sender: str = "",
) -> bytes:
    """The letter's file content in ``output``'s format (HTML as UTF-8)."""
    html = render_html(letter, language, template_dir=template_dir, sender=sender)
    if output is DocumentFormat.HTML:
        return html.encode("utf-8")
    return render_pdf(html, base=template_dir)


def grouped(amount_minor: int, currency: str) -> str:
    """An amount for a letter: thousands separated, exact decimals, no currency
    (``123456789`` USD -> ``1,234,567.89``; the currency is printed once, in the heading)."""
    return f"{Decimal(format_minor(amount_minor, currency)):,}"


_DIGITS: Final = "零壹贰叁肆伍陆柒捌玖"
_PLACES: Final = ("仟", "佰", "拾", "")
_SECTIONS: Final = ("", "万", "亿", "万亿")


def chinese_capital(amount_minor: int) -> str:
    """A CNY amount in Chinese capital numerals (大写金额), as cheques, receipts and letters
    about money write it, by the rules of the People's Bank's payment and settlement measures
    (支付结算办法): ``19521000`` -> ``壹拾玖万伍仟贰佰壹拾元整``, ``1640902`` ->
    ``壹万陆仟肆佰零玖元零贰分``. One 零 stands for any run of zeros inside the number, 整
    follows an amount in whole yuan, and 零 is written after 元 when the yuan end in zero or the
    jiao are zero but fen follow.

    Raises:
        ValueError: a negative amount, or one of 10**16 yuan or more (no unit above 万亿).
    """
    if amount_minor < 0:
        raise ValueError(f"capital numerals write no negative amount, got {amount_minor}")
    yuan, cents = divmod(amount_minor, 100)
    jiao, fen = divmod(cents, 10)
    if yuan >= 10 ** (4 * len(_SECTIONS)):
        raise ValueError(f"{yuan} yuan is beyond the largest unit, 万亿")
    if amount_minor == 0:
        return "零元整"
    words = ""
    if yuan:
        groups = []
        rest = yuan
        while rest:
            rest, group = divmod(rest, 10_000)
            groups.append(group)
        zero_pending = False
        for index in range(len(groups) - 1, -1, -1):
            group = groups[index]
            if group == 0:
                zero_pending = bool(words)
                continue
            if words and (zero_pending or group < 1000):
                words += "零"
            zero_pending = False
            words += _group_words(group) + _SECTIONS[index]
        words += "元"
    if jiao == 0 and fen == 0:
        return words + "整"
    if yuan and (yuan % 10 == 0 or jiao == 0):
        words += "零"
    if jiao:
        words += _DIGITS[jiao] + "角"
    if fen:
        words += _DIGITS[fen] + "分"
    return words


def _group_words(group: int) -> str:
    """0 < group < 10,000 in capitals, without leading or trailing zeros (壹仟零玖)."""
    assert 0 < group < 10_000
    digits = f"{group:04d}"
    words = ""
    zero_pending = False
    for digit, place in zip(digits, _PLACES, strict=True):
        if digit == "0":
            zero_pending = bool(words)
            continue
        if zero_pending:
            words += "零"
            zero_pending = False
        words += _DIGITS[int(digit)] + place
    return words


def bucket_label(label: str, language: Language) -> str:
    """An ageing bucket's label (``current``, ``1-30``, ``over 90``) in the language."""
    if language is Language.EN:
        if label == "current":
            return "not yet due"
        return f"{label} days"
    if label == "current":
        return "未逾期"
    if label.startswith("over "):
        return f"{label.removeprefix('over ')}天以上"
    return f"{label}天"


def _where(template_dir: Path | None) -> str:
    if template_dir is None:
        return "the package's templates"
    return f"{str(template_dir)!r} or the package's templates"


def _day_en(on: date) -> str:
    return f"{on.day} {on:%B} {on.year}"


def _day_zh(on: date) -> str:
    return f"{on.year}年{on.month}月{on.day}日"


DAY_FORMATS: Final = {Language.EN: _day_en, Language.ZH: _day_zh}
"""Dates as letters write them: ``31 March 2024``, ``2024年3月31日`` (no locale database:
the month names of English are the C locale's, which ``%B`` uses)."""

WORDS: Final[dict[Language, dict[str, dict[str, str]]]] = {
    Language.EN: {
        "movement": {
            MovementKind.INVOICE.value: "invoice",
            MovementKind.PAYMENT.value: "payment",
            MovementKind.PAYMENT_REVERSAL.value: "payment returned",
            MovementKind.CREDIT_NOTE.value: "credit note",
            MovementKind.CONCESSION.value: "allowance",
            MovementKind.GOODS_IN_LIEU.value: "goods in lieu",
            MovementKind.WRITE_OFF.value: "written off",
            MovementKind.REINSTATEMENT.value: "reinstated",
        },
    },
    Language.ZH: {
        "movement": {
            MovementKind.INVOICE.value: "发票",
            MovementKind.PAYMENT.value: "收款",
            MovementKind.PAYMENT_REVERSAL.value: "退票",
            MovementKind.CREDIT_NOTE.value: "红字发票",
            MovementKind.CONCESSION.value: "折让",
            MovementKind.GOODS_IN_LIEU.value: "以物抵债",
            MovementKind.WRITE_OFF.value: "核销",
            MovementKind.REINSTATEMENT.value: "核销转回",
        },
    },
}
"""Words for the codes a letter prints (movement kinds), per language; a test checks every
kind has one in each language."""
