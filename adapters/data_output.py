"""``to_data``: any query result as JSON-ready data, through one cattrs converter.

A service answering HTTP, a log line or the CLI's JSON and CSV writers all turn results into
data the same way: the hooks of the event converter (``serialization.make_converter``: dates
as ISO ``YYYY-MM-DD``, datetimes as ISO 8601 with offset, UUIDs as canonical text, Decimals as
exact text, enums by value) applied to the attrs records of the results, every field by its
name; then tuples, lists and sets become lists and mapping keys text. Amounts stay integer
minor units beside their currency (``overdue_minor`` and ``currency``), exact in any JSON
reader; ``major_text`` writes one as decimal text for people.

Invariant: the output holds only ``None``, ``bool``, ``int``, ``str``, lists and dicts with
text keys, so ``json.dumps`` takes it as it is; no float is ever produced.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date, datetime
from decimal import Decimal
from typing import Final, TypeAlias
from uuid import UUID

import attrs
import cattrs

from arledger.adapters.persistence.serialization import make_converter
from arledger.domain.customer import CustomerAccount
from arledger.domain.money import format_minor

JsonData: TypeAlias = bool | int | str | list["JsonData"] | dict[str, "JsonData"] | None
"""What ``to_data`` returns: JSON's values without floats."""


def _make_converter() -> cattrs.Converter:
    # Tuples and sets become lists in the converter's own pass (no second walk).
    converter = make_converter().copy(
        unstruct_collection_overrides={Sequence: list, AbstractSet: list}
    )
    # A sequence-like result (``Worklist``) is a record first: its fields, not its items.
    converter.register_unstructure_hook_factory(attrs.has, converter.gen_unstructure_attrs_fromdict)
    # An account's invoice index is held in persistent collections (``invoice_vector`` and the
    # set beside it, for speed); its data is ``invoice_ids``, the list in the order added.
    account_fields = converter.gen_unstructure_attrs_fromdict(CustomerAccount)

    def account(value: CustomerAccount) -> dict[str, object]:
        data: dict[str, object] = account_fields(value)
        del data["invoice_vector"], data["invoice_id_set"]
        return {**data, "invoice_ids": [str(invoice_id) for invoice_id in value.invoice_ids]}

    converter.register_unstructure_hook(CustomerAccount, account)
    return converter


_CONVERTER: Final = _make_converter()


def to_data(result: object) -> JsonData:
    """``result`` (any query result, record, list or mapping of them, or a plain value) as
    JSON-ready data: attrs records as dicts of their fields, the rest as the module says.

    Raises:
        TypeError: ``result`` holds something that is not data (a float, a function, ...).
    """
    return _checked(_CONVERTER.unstructure(result))


def major_text(amount_minor: int, currency: str) -> str:
    """An amount in minor units as exact decimal text in major units (``120000`` USD ->
    ``"1200.00"``), as the CLI writes amounts."""
    return format_minor(amount_minor, currency)


# Reading data back, for writers that present it (the CLI's JSON and CSV) -------------------


def record_of(data: JsonData) -> dict[str, JsonData]:
    """``data`` that is a record (a dict), typed as one."""
    if not isinstance(data, dict):
        raise TypeError(f"expected a record, got {data!r}")
    return data


def records_of(data: JsonData) -> list[dict[str, JsonData]]:
    """``data`` that is a list of records, typed as one."""
    if not isinstance(data, list):
        raise TypeError(f"expected a list of records, got {data!r}")
    return [record_of(item) for item in data]


def minor_of(data: JsonData) -> int:
    """``data`` that is a whole number (minor units, a count), typed as one."""
    if not isinstance(data, int) or isinstance(data, bool):
        raise TypeError(f"expected a whole number, got {data!r}")
    return data


def amount_text(record: dict[str, JsonData], field: str) -> str:
    """The amount in minor units at ``field`` of a record with a ``currency``, as
    ``major_text``."""
    currency = record["currency"]
    assert isinstance(currency, str)
    return major_text(minor_of(record[field]), currency)


def amounts_text(record: dict[str, JsonData], field: str) -> list[str]:
    """The amounts in minor units listed at ``field`` of a record with a ``currency``."""
    currency = record["currency"]
    assert isinstance(currency, str)
    values = record[field]
    assert isinstance(values, list)
    return [major_text(minor_of(value), currency) for value in values]


_PLAIN: Final = frozenset({str, int, bool, type(None)})


def _checked(value: object) -> JsonData:
    """``value`` as the converter left it, checked (and, where a container it could not see
    into held other values, finished): only JSON's values, lists and text-keyed dicts."""
    kind = type(value)
    if kind in _PLAIN:
        return value  # type: ignore[return-value]
    if kind is list:
        return [_checked(item) for item in value]  # type: ignore[attr-defined]
    if kind is dict:
        return {
            key if type(key) is str else _key(key): _checked(item)
            for key, item in value.items()  # type: ignore[attr-defined]
        }
    if isinstance(value, Mapping):
        return {_key(key): _checked(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_checked(item) for item in value]
        if isinstance(value, set | frozenset):
            items.sort(key=repr)  # sets have no order; data should be the same every time
        return items
    # What the converter's hooks leave unconverted inside containers it does not walk.
    if isinstance(value, datetime | date | UUID | Decimal | enum.Enum) or attrs.has(kind):
        return _checked(_CONVERTER.unstructure(value))
    raise TypeError(f"not JSON-ready data: {value!r} ({kind.__name__})")


def _key(key: object) -> str:
    data = _checked(key)
    if isinstance(data, str):
        return data
    if isinstance(data, int) and not isinstance(data, bool):
        return str(data)
    raise TypeError(f"a mapping key that is not text or a number: {key!r}")
