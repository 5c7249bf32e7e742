"""Row filters for recipes (`data.train_where: 'year >= 1980 and year < 2000'`): a tiny expression language over
labels.csv columns, tokenized and parsed here by hand (never eval), so a recipe can't run code."""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NoReturn

from mmgenre.errors import MmgenreError

MAX_LENGTH = 2000
MAX_DEPTH = 50
OPERATORS = ("==", "!=", "<=", ">=", "^=", "=", "<", ">", "~")  # longest first
KEYWORDS = ("and", "or", "not")
COMPARE = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "~": lambda cell, value: value in cell,  # contains: `genres ~ comedy`, `language ~ english`
    "^=": str.startswith,  # starts with: `language ^= english` (English first)
}
TEXT_ONLY = ("~", "^=")  # these compare text even when the value looks like a number
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class FilterError(MmgenreError):
    """A filter expression that cannot be parsed, or that names columns the data doesn't have."""


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "column" (back-quoted), "number", "string", "op", "(", ")", "and", "or", "not", "end"
    text: str  # the token as written; for strings and back-quoted names, the unquoted value
    pos: int


@dataclass(frozen=True)
class Comparison:
    column: str
    op: str  # one of "=", "!=", "<", "<=", ">", ">=", "~", "^=" ("==" is stored as "=")
    value: float | str


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


Node = Comparison | And | Or | Not


def leading_number(cell: str) -> float | None:
    """The number a cell starts with ("96 min" -> 96, "1980–1985" -> 1980), or None when it has none."""
    found = NUMBER.match(cell.strip())
    return float(found.group()) if found else None


def evaluate(node: Node, meta: Mapping[str, str]) -> bool:
    """Whether a row's cells satisfy `node`; a missing cell is an empty string."""
    if isinstance(node, And):
        return all(evaluate(part, meta) for part in node.parts)
    if isinstance(node, Or):
        return any(evaluate(part, meta) for part in node.parts)
    if isinstance(node, Not):
        return not evaluate(node.part, meta)
    cell = meta.get(node.column) or ""
    if isinstance(node.value, float):
        number = leading_number(cell)
        return number is not None and COMPARE[node.op](number, node.value)
    return COMPARE[node.op](cell.strip().casefold(), node.value)


def columns_in(node: Node) -> Iterator[str]:
    """Each column `node` reads, once per comparison."""
    if isinstance(node, Comparison):
        yield node.column
    elif isinstance(node, Not):
        yield from columns_in(node.part)
    else:
        for part in node.parts:
            yield from columns_in(part)


@dataclass(frozen=True)
class Filter:
    """A parsed filter expression; `matches(meta)` tells whether a row passes."""

    text: str
    tree: Node = field(repr=False, compare=False)

    def matches(self, meta: Mapping[str, str]) -> bool:
        """Whether the row with these cells passes the filter."""
        return evaluate(self.tree, meta)

    @property
    def columns(self) -> frozenset[str]:
        """The columns the expression reads."""
        return frozenset(columns_in(self.tree))

    def check_columns(self, available: Iterable[str], where: str) -> None:
        """Raise FilterError naming each column the data lacks, with the closest names and what exists."""
        names = sorted(set(available))
        unknown = sorted(self.columns - set(names))
        if not unknown:
            return
        hints = [difflib.get_close_matches(name, names, n=1, cutoff=0.6) for name in unknown]
        close = [repr(match[0]) for match in hints if match]
        listed = ", ".join(repr(name) for name in unknown)
        raise FilterError(
            f"unknown column{'s' if len(unknown) > 1 else ''} {listed} at {where} in filter {self.text!r}."
            + (f" Did you mean {' or '.join(close)}?" if close else "")
            + f" Available: {', '.join(names) or '(none)'}"
        )


class Parser:
    """Tokenizer and recursive-descent parser: or_expr := and_expr ('or' and_expr)*;
    and_expr := not_expr ('and' not_expr)*; not_expr := 'not'* ('(' or_expr ')' | COLUMN OP VALUE)."""

    def __init__(self, text: str, where: str) -> None:
        self.text, self.where, self.index, self.depth = text, where, 0, 0
        self.tokens = self.tokenize()

    def fail(self, expected: str, pos: int) -> NoReturn:
        """Raise the FilterError for a syntax problem, naming where, the position and the expression."""
        at = f" at {self.where}" if self.where else ""
        raise FilterError(f"bad filter{at}: {expected} at position {pos} in {self.text!r}")

    def tokenize(self) -> list[Token]:
        """The tokens of the text, ending with an "end" token."""
        text, tokens, pos = self.text, [], 0
        while pos < len(text):
            char = text[pos]
            if char.isspace():
                pos += 1
            elif char in "()":
                tokens.append(Token(char, char, pos))
                pos += 1
            elif char in "\"'`":
                value, end = self.read_quoted(pos)
                tokens.append(Token("column" if char == "`" else "string", value, pos))
                pos = end
            elif number := NUMBER.match(text, pos):
                tokens.append(Token("number", number.group(), pos))
                pos = number.end()
            elif word := WORD.match(text, pos):
                lowered = word.group().lower()
                tokens.append(Token(lowered if lowered in KEYWORDS else "word", word.group(), pos))
                pos = word.end()
            elif op := next((o for o in OPERATORS if text.startswith(o, pos)), None):
                tokens.append(Token("op", op, pos))
                pos += len(op)
            else:
                self.fail(f"unexpected character {char!r} (quote values that are not a single word)", pos)
        return [*tokens, Token("end", "", len(text))]

    def read_quoted(self, start: int) -> tuple[str, int]:
        """The unescaped content of the quoted string or name at `start`, and the position after it."""
        text, chars, pos = self.text, [], start + 1
        quote = text[start]
        while pos < len(text) and text[pos] != quote:
            if text[pos] == "\\":
                if pos + 1 >= len(text) or text[pos + 1] not in (quote, "\\"):
                    self.fail(f"expected {quote} or \\ after a backslash", pos + 1)
                pos += 1
            chars.append(text[pos])
            pos += 1
        if pos >= len(text):
            self.fail(f"expected a closing {quote} (the {quote} at position {start} is never closed)", pos)
        if quote == "`" and not chars:
            self.fail("expected a column name between the back-quotes", start)
        return "".join(chars), pos + 1

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)  # the "end" token is never passed
        return token

    def peek(self) -> Token:
        return self.tokens[self.index]

    def parse(self) -> Node:
        tree = self.or_expr()
        extra = self.peek()
        if extra.kind != "end":
            if extra.kind == ")":
                self.fail("expected the end, found ')' with no '(' to close", extra.pos)
            self.fail(f"expected 'and', 'or' or the end{found(extra)}", extra.pos)
        return tree

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.peek().kind == "or":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.not_expr()]
        while self.peek().kind == "and":
            self.take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def not_expr(self) -> Node:
        negations = 0
        while self.peek().kind == "not":  # a loop, not recursion: 'not not not ...' can't exhaust the stack
            self.take()
            negations += 1
        node = self.group() if self.peek().kind == "(" else self.comparison()
        return Not(node) if negations % 2 else node

    def group(self) -> Node:
        opening = self.take()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"expected at most {MAX_DEPTH} nested parentheses", opening.pos)
        node = self.or_expr()
        if self.peek().kind != ")":
            self.fail(
                f"expected ')' (the '(' at position {opening.pos} is never closed){found(self.peek())}", self.peek().pos
            )
        self.take()
        self.depth -= 1
        return node

    def comparison(self) -> Node:
        column = self.take()
        if column.kind not in ("word", "column"):
            self.fail(f"expected a column name{found(column)}", column.pos)
        op = self.take()
        if op.kind != "op":
            self.fail(
                f"expected an operator (=, !=, <, <=, >, >=, ~ contains, ^= starts with) after {column.text!r}"
                f"{found(op)}",
                op.pos,
            )
        value = self.take()
        if value.kind == "number" and op.text not in TEXT_ONLY:
            return Comparison(column.text, "=" if op.text == "==" else op.text, float(value.text))
        if value.kind == "column":
            self.fail(
                f"expected a value after {op.text!r} (back-quotes name columns; quote values with \" or ')", value.pos
            )
        if value.kind not in ("string", "word", "number"):
            self.fail(f"expected a value after {op.text!r}{found(value)}", value.pos)
        return Comparison(column.text, "=" if op.text == "==" else op.text, value.text.strip().casefold())


def found(token: Token) -> str:
    """ ", found 'x'" for an error message, or nothing at the end of the expression."""
    return "" if token.kind == "end" else f", found {token.text!r}"


def parse_filter(text: str, where: str = "") -> Filter:
    """Parse a filter expression; any problem is a FilterError naming `where`, the position and what was expected."""
    at = f" at {where}" if where else ""
    if len(text) > MAX_LENGTH:
        raise FilterError(f"bad filter{at}: it is {len(text):,} characters long; the limit is {MAX_LENGTH:,}")
    if not text.strip():
        raise FilterError(f"bad filter{at}: the expression is empty (write e.g. 'year >= 1980')")
    return Filter(text, Parser(text, where).parse())
