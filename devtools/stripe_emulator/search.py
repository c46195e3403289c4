"""Search endpoints and Stripe's search query language (https://docs.stripe.com/search).

List endpoints never filter on ``metadata``; search does. A query is clauses joined by ``AND`` or by
``OR`` (not both), each ``field:value`` (exact match), ``field~"value"`` (substring, 3 characters at
least), ``field>n`` / ``>=`` / ``<`` / ``<=`` (numbers), prefixed with ``-`` to negate; strings are
quoted, ``null`` tests for absence, ``metadata['key']`` addresses a metadata key. String matching is
case-insensitive. Each resource declares the fields Stripe lets it be searched by; any other field is
refused.

Stripe's search is eventually consistent ("under normal operating conditions, data is searchable in
less than a minute"): the emulator's is immediate. Code under test must not rely on read-after-write
search anyway; tests that run against Stripe poll for the object they expect.

Results are ``{"object": "search_result", "data", "has_more", "next_page", "url"}``, newest first;
``page`` takes the ``next_page`` of the previous result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import ParamError
from .params import EXPAND, Int, Obj, Str
from .routing import Call
from .store import JSON

FieldType = Literal["string", "number", "metadata"]
MAX_CLAUSES = 10
DEFAULT_LIMIT = 10

SEARCH_PARAMS = Obj(
    {
        "expand": EXPAND,
        "limit": Int(min=1, max=100),
        "page": Str(),
        "query": Str(required=True),
    }
)


@dataclass(frozen=True)
class SearchField:
    type: FieldType
    value: Callable[[JSON], Any]


def string_field(name: str) -> SearchField:
    return SearchField("string", lambda obj: obj.get(name))


def number_field(name: str) -> SearchField:
    return SearchField("number", lambda obj: obj.get(name))


METADATA = SearchField("metadata", lambda obj: obj.get("metadata") or {})


@dataclass(frozen=True)
class Clause:
    negated: bool
    field: str
    key: str | None
    operator: str
    value: str | float | None


_CLAUSE = re.compile(
    r"""\s*(?P<neg>-)?(?P<field>[a-z_]+(?:\.[a-z_]+)*)
        (?:\[(?P<q>['"])(?P<key>.*?)(?P=q)\])?
        (?P<op>:|~|>=|<=|>|<)
        (?:'(?P<single>(?:[^'\\]|\\.)*)'|"(?P<double>(?:[^"\\]|\\.)*)"|(?P<number>-?\d+(?:\.\d+)?)|(?P<null>null))
    """,
    re.VERBOSE,
)
_JOINER = re.compile(r"\s+(AND|OR)\s+")


def _invalid(message: str) -> ParamError:
    return ParamError(message, param="query")


def parse(query: str, fields: Mapping[str, SearchField], resource: str) -> tuple[list[Clause], str]:
    clauses: list[Clause] = []
    joiners: set[str] = set()
    position = 0
    text = query.strip()
    while True:
        found = _CLAUSE.match(text, position)
        if found is None:
            raise _invalid(
                f"The query `{query}` is invalid. See https://docs.stripe.com/search#search-query-language "
                "for the search query language."
            )
        field, key = found.group("field"), found.group("key")
        if field not in fields or (fields[field].type == "metadata") != (key is not None):
            name = f"{field}[{key!r}]" if key is not None else field
            raise _invalid(
                f"Field `{name}` is an unsupported search field for resource `{resource}`. See "
                f"http://stripe.com/docs/search#query-fields-for-{resource} for a list of supported fields."
            )
        value: str | float | None
        if found.group("null") is not None:
            value = None
        elif found.group("number") is not None:
            value = float(found.group("number"))
        else:
            raw = found.group("single") if found.group("single") is not None else found.group("double")
            value = re.sub(r"\\(.)", r"\1", raw or "")
        operator = found.group("op")
        kind = fields[field].type
        if operator in (">", "<", ">=", "<=") and (kind != "number" or not isinstance(value, float)):
            raise _invalid(f"The `{operator}` operator only applies to numeric fields, not `{field}`.")
        if operator == "~" and (not isinstance(value, str) or len(value) < 3):
            raise _invalid("Substring matching (`~`) needs a quoted value of at least 3 characters.")
        clauses.append(Clause(bool(found.group("neg")), field, key, operator, value))
        position = found.end()
        if position >= len(text):
            break
        joiner = _JOINER.match(text, position)
        if joiner is None:
            raise _invalid(f"The query `{query}` is invalid: clauses must be joined by `AND` or `OR`.")
        joiners.add(joiner.group(1))
        position = joiner.end()
    if len(joiners) > 1:
        raise _invalid("A search query cannot combine `AND` and `OR`.")
    if len(clauses) > MAX_CLAUSES:
        raise _invalid(f"A search query can have at most {MAX_CLAUSES} clauses.")
    return clauses, joiners.pop() if joiners else "AND"


def _clause_holds(obj: JSON, clause: Clause, fields: Mapping[str, SearchField]) -> bool:
    spec = fields[clause.field]
    actual = spec.value(obj)
    if spec.type == "metadata":
        actual = actual.get(clause.key) if isinstance(actual, dict) else None
    if clause.value is None:
        result = actual is None
    elif spec.type == "number":
        number = float(actual) if actual is not None else None
        target = float(clause.value)
        comparisons = {
            ":": lambda a: a == target,
            ">": lambda a: a > target,
            "<": lambda a: a < target,
            ">=": lambda a: a >= target,
            "<=": lambda a: a <= target,
        }
        result = number is not None and bool(comparisons[clause.operator](number))
    elif actual is None:
        result = False
    else:
        value = str(clause.value).casefold() if not isinstance(clause.value, float) else None
        text = str(actual).casefold()
        if value is None:
            result = text == f"{clause.value:g}"
        else:
            result = value in text if clause.operator == "~" else text == value
    return result != clause.negated


def search_page(call: Call, candidates: list[JSON], fields: Mapping[str, SearchField], resource: str) -> JSON:
    """Answer a search over ``candidates`` (newest first) as a Stripe ``search_result``."""
    clauses, joiner = parse(call.params["query"], fields, resource)
    combine = all if joiner == "AND" else any
    found = [obj for obj in candidates if combine(_clause_holds(obj, clause, fields) for clause in clauses)]
    offset = 0
    if "page" in call.params:
        page = call.params["page"]
        if not re.fullmatch(r"page_\d+", page):
            raise ParamError(f"Invalid page: {page}", param="page")
        offset = int(page.removeprefix("page_"))
    limit: int = call.params.get("limit", DEFAULT_LIMIT)
    data = found[offset : offset + limit]
    has_more = len(found) > offset + limit
    return {
        "object": "search_result",
        "data": data,
        "has_more": has_more,
        "next_page": f"page_{offset + limit}" if has_more else None,
        "url": call.url,
    }
