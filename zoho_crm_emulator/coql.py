"""COQL: ``POST /crm/v8/coql`` with the subset of the language Zoho's docs and the tap use.

``select <columns> from <Module> where <criteria> [order by <col> [asc|desc], ...]
[limit <n> [offset <m>] | limit <m>, <n>]``: columns are field API names or one-level lookup
paths (``Owner.email``, ``Account_Name.Account_Name``); criteria compare a column with a
literal (``=  !=  <  <=  >  >=``, ``[not] in (...)``, ``is [not] null``, ``[not] like``,
``[not] between a and b``), joined with ``and`` / ``or`` and parentheses.

Zoho's rules kept: WHERE is required, at most 25 criteria and 10 ORDER BY columns, LIMIT at
most 2,000 and LIMIT + OFFSET at most 100,000, at most ``coql_max_fields`` columns, keywords
in any case, default order by ``id``. A lookup column answers ``{"id"}``; a dot column answers
a flat key (``"Owner.email": ...``). Credits follow the LIMIT (1-200: 1, -1,000: 2, -2,000: 3).
Converted leads are records of Leads like any other (no ``converted`` switch as in Get Records).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from zoho_crm_emulator.errors import ZohoError
from zoho_crm_emulator.timeutil import parse_iso

MAX_LIMIT = 2_000
MAX_REACH = 100_000
MAX_CRITERIA = 25
MAX_ORDER_BY = 10
DEFAULT_LIMIT = 200

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|<>|=|<|>)"
    r"|(?P<punct>[(),])|(?P<word>[!$A-Za-z_][A-Za-z0-9_.$]*))"
)
_KEYWORDS = frozenset(
    [
        "select",
        "from",
        "where",
        "and",
        "or",
        "not",
        "in",
        "is",
        "null",
        "like",
        "between",
        "order",
        "by",
        "asc",
        "desc",
        "limit",
        "offset",
        "true",
        "false",
    ]
)


def credits_for_limit(limit: int) -> int:
    """Zoho's price of one COQL call by its LIMIT."""
    if limit <= 200:
        return 1
    return 2 if limit <= 1_000 else 3


def _syntax(message: str, **details: Any) -> ZohoError:
    return ZohoError(400, "SYNTAX_ERROR", message, details)


def _invalid(message: str, **details: Any) -> ZohoError:
    return ZohoError(400, "INVALID_QUERY", message, details)


def _limit(message: str, **details: Any) -> ZohoError:
    return ZohoError(400, "LIMIT_EXCEEDED", message, details)


@dataclass(frozen=True)
class Token:
    """One lexical token of a query."""

    kind: str  # str | num | op | punct | word | kw
    text: str


def tokenize(query: str) -> list[Token]:
    """Split a query into tokens; anything unrecognised is a SYNTAX_ERROR."""
    tokens: list[Token] = []
    position = 0
    text = query.rstrip().rstrip(";")
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                break
            raise _syntax("error occured while parsing the query", column=position + 1)
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "word" and value.lower() in _KEYWORDS:
            tokens.append(Token("kw", value.lower()))
        else:
            tokens.append(Token(kind, value))
        position = match.end()
    return tokens


@dataclass(frozen=True)
class Condition:
    """One criterion: a column, a comparator and its literals."""

    column: str
    op: str  # = != < <= > >= in not_in null not_null like not_like between not_between
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Junction:
    """Criteria joined by ``and`` or ``or``."""

    op: str  # and | or
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Query:
    """A parsed, limit-checked query."""

    columns: tuple[str, ...]
    module: str
    where: Any
    order_by: tuple[tuple[str, bool], ...]  # (column, descending)
    limit: int
    offset: int
    criteria: int


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.criteria = 0

    def peek(self, kind: str | None = None, text: str | None = None) -> Token | None:
        if self.at >= len(self.tokens):
            return None
        token = self.tokens[self.at]
        if kind is not None and token.kind != kind:
            return None
        if text is not None and token.text.lower() != text:
            return None
        return token

    def take(self, kind: str | None = None, text: str | None = None, *, clause: str) -> Token:
        token = self.peek(kind, text)
        if token is None:
            found = self.tokens[self.at].text if self.at < len(self.tokens) else "end of query"
            raise _syntax(f"error occured while parsing the query near {found!r}", clause=clause)
        self.at += 1
        return token

    def query(self) -> Query:
        self.take("kw", "select", clause="select")
        columns = [self.take("word", clause="select").text]
        while self.peek("punct", ","):
            self.at += 1
            columns.append(self.take("word", clause="select").text)
        self.take("kw", "from", clause="from")
        module = self.take("word", clause="from").text
        if not self.peek("kw", "where"):
            raise _syntax("where clause is mandatory in a COQL query", clause="where")
        self.at += 1
        where = self.expression()
        order: list[tuple[str, bool]] = []
        if self.peek("kw", "order"):
            self.at += 1
            self.take("kw", "by", clause="order by")
            while True:
                column = self.take("word", clause="order by").text
                descending = False
                if self.peek("kw", "asc") or self.peek("kw", "desc"):
                    descending = self.take(clause="order by").text == "desc"
                order.append((column, descending))
                if not self.peek("punct", ","):
                    break
                self.at += 1
        limit, offset = DEFAULT_LIMIT, 0
        if self.peek("kw", "limit"):
            self.at += 1
            limit = int(self.take("num", clause="limit").text)
            if self.peek("punct", ","):
                self.at += 1
                offset, limit = limit, int(self.take("num", clause="limit").text)
        if self.peek("kw", "offset"):
            self.at += 1
            offset = int(self.take("num", clause="offset").text)
        if self.at != len(self.tokens):
            raise _syntax(
                f"error occured while parsing the query near {self.tokens[self.at].text!r}",
                clause="end",
            )
        return Query(tuple(columns), module, where, tuple(order), limit, offset, self.criteria)

    def expression(self) -> Any:
        parts = [self.term()]
        while self.peek("kw", "or"):
            self.at += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else Junction("or", tuple(parts))

    def term(self) -> Any:
        parts = [self.factor()]
        while self.peek("kw", "and"):
            self.at += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else Junction("and", tuple(parts))

    def factor(self) -> Any:
        if self.peek("punct", "("):
            self.at += 1
            inner = self.expression()
            self.take("punct", ")", clause="where")
            return inner
        return self.condition()

    def literal(self) -> Any:
        token = self.take(clause="where")
        if token.kind == "str":
            return token.text[1:-1].replace("''", "'")
        if token.kind == "num":
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "kw" and token.text in ("true", "false"):
            return token.text == "true"
        if token.kind == "kw" and token.text == "null":
            return None
        if token.kind == "word":
            return token.text  # Zoho accepts bare picklist values (Lead_Source = Advertisement)
        raise _syntax(f"error occured while parsing the query near {token.text!r}", clause="where")

    def condition(self) -> Condition:
        column = self.take("word", clause="where").text
        self.criteria += 1
        negate = False
        if self.peek("kw", "not"):
            self.at += 1
            negate = True
        token = self.take(clause="where")
        if token.kind == "op" and not negate:
            op = "!=" if token.text == "<>" else token.text
            return Condition(column, op, (self.literal(),))
        if token.kind == "kw" and token.text == "in":
            self.take("punct", "(", clause="where")
            values = [self.literal()]
            while self.peek("punct", ","):
                self.at += 1
                values.append(self.literal())
            self.take("punct", ")", clause="where")
            return Condition(column, "not_in" if negate else "in", tuple(values))
        if token.kind == "kw" and token.text == "is" and not negate:
            if self.peek("kw", "not"):
                self.at += 1
                negate = True
            self.take("kw", "null", clause="where")
            return Condition(column, "not_null" if negate else "null", ())
        if token.kind == "kw" and token.text == "like":
            return Condition(column, "not_like" if negate else "like", (self.literal(),))
        if token.kind == "kw" and token.text == "between":
            low = self.literal()
            self.take("kw", "and", clause="where")
            high = self.literal()
            return Condition(column, "not_between" if negate else "between", (low, high))
        raise _syntax(f"error occured while parsing the query near {token.text!r}", clause="where")


def parse(query: str, *, max_fields: int) -> Query:
    """Parse and check a COQL query against Zoho's limits (no module knowledge yet)."""
    parsed = _Parser(tokenize(query)).query()
    if len(parsed.columns) > max_fields:
        raise _limit(
            f"at most {max_fields} columns can be selected", clause="select", limit=max_fields
        )
    if parsed.criteria > MAX_CRITERIA:
        raise _limit(f"at most {MAX_CRITERIA} criteria", clause="where", limit=MAX_CRITERIA)
    if len(parsed.order_by) > MAX_ORDER_BY:
        raise _limit(f"at most {MAX_ORDER_BY} order by columns", clause="order by")
    if parsed.limit < 1 or parsed.limit > MAX_LIMIT:
        raise _limit(f"limit must be between 1 and {MAX_LIMIT}", clause="limit", limit=MAX_LIMIT)
    if parsed.offset < 0 or parsed.offset + parsed.limit > MAX_REACH:
        raise _limit(
            f"limit and offset together reach at most {MAX_REACH} records",
            clause="offset",
            limit=MAX_REACH,
        )
    return parsed


#: (row, column) -> the row's value; None for a column the row has no value for.
Resolver = Callable[[Any, str], Any]
#: Column -> Zoho data type, or None for a column the module does not have.
TypeOf = Callable[[str], "str | None"]


def _comparable(value: Any, data_type: str) -> Any:
    if value is None:
        return None
    if data_type == "datetime":
        # The store hands over epoch seconds; literals come as ISO text with an offset.
        return value if isinstance(value, int) else parse_iso(str(value), param="select_query")
    if data_type in ("integer", "double", "currency", "decimal", "percent", "bigint"):
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if data_type == "id":
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    if isinstance(value, bool):
        return value
    return str(value)


def _like(value: Any, pattern: Any) -> bool:
    regex = "".join(".*" if c == "%" else re.escape(c) for c in str(pattern))
    return value is not None and re.fullmatch(regex, str(value), re.IGNORECASE) is not None


class _Literals:
    """Each condition's type and literals, converted once per query instead of once per row."""

    def __init__(self, type_of: TypeOf) -> None:
        self.type_of = type_of
        self._seen: dict[int, tuple[str, list[Any]]] = {}

    def of(self, node: Any) -> tuple[str, list[Any]]:
        found = self._seen.get(id(node))
        if found is None:
            data_type = self.type_of(node.column) or "text"
            try:
                literals = [_comparable(v, data_type) for v in node.values]
            except ZohoError:
                raise _invalid(
                    "invalid value given for the column", column_name=node.column, clause="where"
                ) from None
            found = self._seen[id(node)] = (data_type, literals)
        return found


def _matches(node: Any, row: Any, resolve: Resolver, literals_of: _Literals) -> bool:
    if isinstance(node, Junction):
        results = (_matches(part, row, resolve, literals_of) for part in node.parts)
        return all(results) if node.op == "and" else any(results)
    data_type, literals = literals_of.of(node)
    value = _comparable(resolve(row, node.column), data_type)
    op = node.op
    if op == "null":
        return value is None
    if op == "not_null":
        return value is not None
    if op in ("like", "not_like"):
        return _like(value, node.values[0]) == (op == "like")
    if op in ("in", "not_in"):
        return (value in literals) == (op == "in")
    if value is None:
        return op == "!=" and literals[0] is not None
    if op in ("between", "not_between"):
        inside = literals[0] <= value <= literals[1]
        return inside == (op == "between")
    other = literals[0]
    if other is None:
        return op == "!="
    try:
        return bool(
            {
                "=": value == other,
                "!=": value != other,
                "<": value < other,
                "<=": value <= other,
                ">": value > other,
                ">=": value >= other,
            }[op]
        )
    except TypeError:
        raise _invalid("invalid value given for the column", column_name=node.column) from None


def _columns_of(node: Any) -> Iterable[str]:
    if isinstance(node, Junction):
        for part in node.parts:
            yield from _columns_of(part)
    else:
        yield node.column


def run(
    query: Query,
    rows: Iterable[Any],
    *,
    resolve: Resolver,
    type_of: TypeOf,
    render: Callable[[Any, tuple[str, ...]], dict[str, Any]],
) -> tuple[list[dict[str, Any]], bool]:
    """Filter, sort and cut the rows; return the page and whether more rows match."""
    for column in (*query.columns, *_columns_of(query.where), *(c for c, _ in query.order_by)):
        if type_of(column) is None:
            raise _invalid("invalid column given", column_name=column)
    literals = _Literals(type_of)
    matching = [row for row in rows if _matches(query.where, row, resolve, literals)]
    order = query.order_by or (("id", False),)
    for column, descending in reversed(order):
        data_type = type_of(column) or "text"

        def key(row: Any, column: str = column, data_type: str = data_type) -> Any:
            value = _comparable(resolve(row, column), data_type)
            return (value is not None, value if value is not None else 0)

        matching.sort(key=key, reverse=descending)
    end = query.offset + query.limit
    page = [render(row, query.columns) for row in matching[query.offset : end]]
    return page, end < len(matching)
