"""Syntax of the ECS cluster query language: tokens, a recursive-descent parser, and a printer.

Grammar (``not`` binds tighter than ``and``, which binds tighter than ``or``)::

    expression := disjunct (("or" | "||") disjunct)*
    disjunct   := conjunct (("and" | "&&") conjunct)*
    conjunct   := ("not" | "!") conjunct | "(" expression ")" | comparison
    comparison := SUBJECT OPERATOR [argument]          -- no argument after exists / !exists
    argument   := VALUE | "[" VALUE ("," VALUE)* "]"
    VALUE      := bare word | 'quoted' | "quoted"

A bare word is a run of characters other than whitespace and ``()[],'"!=<>~&|``; anything else (a regex
with ``(`` or ``|``, a value with spaces) is quoted, without escapes. Keywords are lowercase. This module
only checks shape; :mod:`.query` checks subjects, operators and argument types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.core.errors import InvalidParameterError

MAX_DEPTH = 64
"""Deepest nesting of parentheses and ``not``: bounds recursion on hostile input."""

WORD_OPERATORS = {
    "equals": "==",
    "not_equals": "!=",
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
    "exists": "exists",
    "not_exists": "!exists",
    "in": "in",
    "not_in": "!in",
    "matches": "=~",
    "not_matches": "!~",
}
NULLARY_OPERATORS = frozenset({"exists", "!exists"})
LIST_OPERATORS = frozenset({"in", "!in"})
_SYMBOLS = ("==", "!=", ">=", "<=", "=~", "!~", "&&", "||", ">", "<", "(", ")", "[", "]", ",")
_NOT_WORD = set("()[],'\"!=<>~&|")


class QueryError(InvalidParameterError):
    """A malformed or meaningless cluster query; ``position`` is the 0-based offset of the problem."""

    def __init__(self, reason: str, position: int) -> None:
        super().__init__(f"Invalid cluster query expression at position {position}: {reason}")
        self.reason = reason
        self.position = position


@dataclass(frozen=True, slots=True)
class Comparison:
    """``subject operator [argument]``; ``operator`` is always the symbolic spelling (``!in``, ``=~``)."""

    subject: str
    operator: str
    argument: str | tuple[str, ...] | None = None
    position: int = field(default=0, compare=False)
    argument_position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expression


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Expression, ...]


Expression = Comparison | Not | And | Or


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "symbol", "word", "string" or "end"
    text: str
    position: int


def _is_word_char(char: str) -> bool:
    return not char.isspace() and char not in _NOT_WORD


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; ``!in``/``!exists`` are single symbols, a lone ``!`` is negation."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "'\"":
            end = text.find(char, i + 1)
            if end < 0:
                raise QueryError("unterminated quoted value", i)
            tokens.append(Token("string", text[i + 1 : end], i))
            i = end + 1
        elif _is_word_char(char):
            start = i
            while i < len(text) and _is_word_char(text[i]):
                i += 1
            tokens.append(Token("word", text[start:i], start))
        else:
            token = _symbol_at(text, i)
            tokens.append(token)
            i += len(token.text)
    tokens.append(Token("end", "", len(text)))
    return tokens


def _symbol_at(text: str, i: int) -> Token:
    if text[i] == "!":
        end = i + 1
        while end < len(text) and _is_word_char(text[end]):
            end += 1
        if text[i + 1 : end] in ("in", "exists"):
            return Token("symbol", text[i:end], i)
    symbol = next((s for s in _SYMBOLS if text.startswith(s, i)), "!" if text[i] == "!" else None)
    if symbol is None:
        raise QueryError(f"unexpected character {text[i]!r}", i)
    return Token("symbol", symbol, i)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.current
        if token.kind != "end":
            self.index += 1
        return token

    def at(self, *spellings: str) -> bool:
        token = self.current
        return token.kind in ("symbol", "word") and token.text in spellings

    def fail(self, expected: str) -> QueryError:
        token = self.current
        found = "the end of the expression" if token.kind == "end" else repr(token.text)
        return QueryError(f"expected {expected}, found {found}", token.position)

    def parse(self) -> Expression:
        expression = self.expression(0)
        if self.current.kind != "end":
            raise self.fail("'and', 'or' or the end of the expression")
        return expression

    def expression(self, depth: int) -> Expression:
        operands = [self.disjunct(depth)]
        while self.at("or", "||"):
            self.advance()
            operands.append(self.disjunct(depth))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def disjunct(self, depth: int) -> Expression:
        operands = [self.conjunct(depth)]
        while self.at("and", "&&"):
            self.advance()
            operands.append(self.conjunct(depth))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def conjunct(self, depth: int) -> Expression:
        if depth >= MAX_DEPTH:
            raise QueryError(f"expression nested deeper than {MAX_DEPTH} levels", self.current.position)
        if self.at("not", "!"):
            self.advance()
            return Not(self.conjunct(depth + 1))
        if self.at("("):
            self.advance()
            inner = self.expression(depth + 1)
            if not self.at(")"):
                raise self.fail("')'")
            self.advance()
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        if self.current.kind != "word":
            raise self.fail("a subject such as attribute:<name> or runningTasksCount")
        subject = self.advance()
        operator = self.operator()
        if operator in NULLARY_OPERATORS:
            return Comparison(subject.text, operator, None, subject.position, self.current.position)
        argument_position = self.current.position
        argument = self.value_list() if self.at("[") else self.value()
        return Comparison(subject.text, operator, argument, subject.position, argument_position)

    def operator(self) -> str:
        token = self.current
        if token.kind == "symbol" and token.text not in ("(", ")", "[", "]", ",", "&&", "||", "!"):
            self.advance()
            return token.text
        if token.kind == "word" and token.text in WORD_OPERATORS:
            self.advance()
            return WORD_OPERATORS[token.text]
        raise self.fail("an operator such as ==, in or =~")

    def value(self) -> str:
        if self.current.kind not in ("word", "string"):
            raise self.fail("a value")
        return self.advance().text

    def value_list(self) -> tuple[str, ...]:
        self.advance()
        values = [self.value()]
        while self.at(","):
            self.advance()
            values.append(self.value())
        if not self.at("]"):
            raise self.fail("',' or ']'")
        self.advance()
        return tuple(values)


def parse_expression(text: str) -> Expression:
    """The syntax tree of ``text``; raises :class:`QueryError` (and nothing else) when it is malformed."""
    return _Parser(text).parse()


def format_value(value: str) -> str:
    """``value`` as a bare word when it reads back as one, else quoted."""
    if value and all(_is_word_char(char) for char in value):
        return value
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError(f"a value cannot contain both quote characters: {value!r}")


def format_expression(expression: Expression) -> str:
    """Canonical text of ``expression``; parsing it gives back an equal tree."""
    if isinstance(expression, Comparison):
        parts = [expression.subject, expression.operator]
        if isinstance(expression.argument, tuple):
            parts.append("[" + ", ".join(format_value(v) for v in expression.argument) + "]")
        elif expression.argument is not None:
            parts.append(format_value(expression.argument))
        return " ".join(parts)
    if isinstance(expression, Not):
        return "not " + _grouped(expression.operand, allow=(Comparison, Not))
    keyword = " and " if isinstance(expression, And) else " or "
    return keyword.join(_grouped(operand, allow=(Comparison, Not)) for operand in expression.operands)


def _grouped(expression: Expression, allow: tuple[type, ...]) -> str:
    text = format_expression(expression)
    return text if isinstance(expression, allow) else f"({text})"
