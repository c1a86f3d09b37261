"""The CloudWatch Logs filter pattern language: :func:`compile_pattern` checks a pattern once,
:meth:`Pattern.matches` runs it against one log event message. Pure.

One language serves FilterLogEvents, subscription filters and metric filters (AWS CloudWatch Logs User
Guide, "Filter pattern syntax for metric filters, subscription filters, filter log events, and Live
Tail"). The first character of the trimmed pattern says which of its five forms it is::

    text ─▶ trim ─┬─ ""        MatchAll            every event
                  ├─ { … }     JsonPattern         a condition on the event's JSON object
                  ├─ [ … ]     DelimitedPattern    conditions on the event's space-delimited fields
                  ├─ % … %     RegexPattern        a regular expression found anywhere in the event
                  └─ otherwise TermsPattern        terms and phrases found in the event

Semantics, as the guide documents them, and the choices made where it is silent:

- Terms: case-sensitive substring matches (``ERROR`` matches ``ERRORCODE``). A term outside double quotes
  is ASCII letters, digits and ``_``; anything else must be quoted (``"ERROR 500"``, ``"user@host"``),
  with ``\\"`` and ``\\\\`` as the escapes inside quotes. Several terms must all appear; ``-term`` must
  not. ``?term`` starts an alternative: ``?ERROR ?WARN`` is either, and the terms after a ``?term`` join
  its alternative, so ``?"ERROR" "MainThread" ?"WARN" "Deadlock"`` (how the AWS CDK writes
  ``anyTermGroup``) is (ERROR and MainThread) or (WARN and Deadlock). Terms before the first ``?term``
  form an alternative of their own (the guide shows no such pattern). A quoted phrase of only spaces
  (``" "``) matches every event, as the guide's "match everything" example has it.
- JSON: ``{ SELECTOR OPERATOR VALUE }`` joined by ``&&`` and ``||`` (``&&`` binds tighter; parentheses
  group). A selector is ``$`` then ``.name`` (letters, digits, ``-``, ``_``) or ``[index]`` steps, an
  index only after a name; wildcard selectors are not documented and are refused. An event that is not a
  JSON object never matches. A comparison needs the selector to reach a string or a number: pointing at
  an object, an array, a boolean, null or nothing, both ``=`` and ``!=`` are false (the guide's
  ``{ $.users = 1 }`` / ``{ $.users != 1 }`` on an array). ``IS TRUE``, ``IS FALSE``, ``IS NULL`` and
  ``NOT EXISTS`` test for exactly that JSON value, or for the selector reaching nothing.
- Values: a number (``400``, ``-1.5``, ``+1000``, ``10e-3``) compares numerically, with all six
  operators, against a JSON number or a string holding a plain decimal (the guide: strings in scientific
  notation are not numbers). A string, quoted or not (unquoted: letters, digits and ``_ - . * +``),
  compares with ``=``/``!=`` against a string, or a number as it is written in the event; ``*`` at its
  start or end is a wildcard, elsewhere a literal ``*`` (``*Event``, ``Event*``; ``Ev*ent`` is only
  ``Ev*ent``). ``%regex%`` with ``=``/``!=`` is found anywhere in that text.
- Space-delimited: ``[name, name = value, ..., name > 1000 && name != 1500]``. The event splits on spaces;
  ``"…"`` and ``[…]`` each hold one field (without the delimiters). The fields must match the pattern's
  names one for one, except that one ``...`` stands for any number of fields. A condition talks about its
  own field only (the guide's ``[w1=ERROR || w1=WARN, w2]``). A trailing comma adds one unnamed field
  that any value fills: the guide's ``[..., request=*.html*, status_code=4*,]`` reports the last field of
  its example event as ``$7``. Conditions use the operators and values of JSON patterns, on field text.
- Regular expressions: the guide's restricted syntax. Only ASCII letters and digits, the symbols
  ``: _ # = @ / ; , -`` and the operators ``^ $ ? [ ] { } | \\ * + .``; so no groups, no spaces (``\\s``
  matches one) and no multi-byte characters. A backslash escapes one of those symbols or operators, or
  writes ``\\d \\D \\s \\S \\w \\W`` (ASCII classes) or ``\\xhh`` (for ``(``, say: ``\\x28``). At most two
  regular expressions in one JSON or space-delimited pattern. They run on RE2, whose matching takes time
  linear in the event: with Python's backtracking ``re`` the seven characters ``%.*.*x%`` take minutes
  on one 8 KB event, and the guide's restrictions do not prevent that.
- A pattern is at most 1,024 characters (the API's limit on ``filterPattern``).
"""

from __future__ import annotations

import json
import operator
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, Literal, Protocol

import re2

from dockyard.control.logs.terms import MessageTest, compile_terms

MAX_PATTERN_LENGTH = 1024
MAX_REGEXES = 2
"""Regular expressions allowed in one JSON or space-delimited pattern."""
MAX_DEPTH = 64
"""Deepest nesting of parentheses: bounds recursion on hostile input."""
_REGEX_MAX_MEMORY = 4 << 20
"""RE2 compiles a regular expression into an automaton of bounded size; one needing more is refused."""

_TERM_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_")
_VALUE_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_-.*+")
_NAME_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_-")
_REGEX_CHARACTERS = frozenset(string.ascii_letters + string.digits + ":_#=@/;,-" + "^$?[]{}|\\*+.")
_REGEX_CLASS_ESCAPES = frozenset("dDsSwW")
_HEX_DIGITS = frozenset(string.hexdigits)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_SELECTOR_STEP = re.compile(r"\.([A-Za-z0-9_-]+)|\[([0-9]+)\]")
_WORD_ENDS = frozenset(' \t\r\n()&|!=<>,"%$')
_ORDER: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class _Searcher(Protocol):
    """A compiled RE2 expression (google-re2 ships no type hints)."""

    def search(self, text: str) -> object | None: ...


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a user's bad pattern is an InvalidParameterException, not a log line
    options.max_mem = _REGEX_MAX_MEMORY
    return options


_RE2_OPTIONS = _re2_options()


class PatternError(ValueError):
    """A malformed filter pattern; the message is what CloudWatch Logs' InvalidParameterException says."""


def _invalid(reason: str) -> PatternError:
    return PatternError(f"Invalid filter pattern: {reason}")


# ── The syntax tree ─────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Term:
    """A word or quoted phrase that must appear in the event, or must not when ``excluded``."""

    text: str
    excluded: bool = False

    def holds(self, message: str) -> bool:
        return (self.text in message) != self.excluded


@dataclass(frozen=True, slots=True)
class TermsPattern:
    """Alternatives, each a group of terms that must all hold; a pattern without ``?`` has one group."""

    alternatives: tuple[tuple[Term, ...], ...]


@dataclass(frozen=True, slots=True)
class Regex:
    """A checked regular expression, found anywhere in the text it is run on."""

    source: str
    compiled: _Searcher = field(repr=False, compare=False)

    def found_in(self, text: str) -> bool:
        try:
            return self.compiled.search(text) is not None
        except UnicodeEncodeError:  # a lone surrogate, which JSON's "\\ud800" can make; RE2 reads UTF-8
            return self.compiled.search(text.encode("utf-8", "replace").decode("utf-8")) is not None


@dataclass(frozen=True, slots=True)
class RegexPattern:
    regex: Regex


@dataclass(frozen=True, slots=True)
class Glob:
    """A string value: ``*`` at the start and at the end stand for any text, a ``*`` inside is itself."""

    core: str
    any_before: bool
    any_after: bool

    def fits(self, text: str) -> bool:
        if self.any_before and self.any_after:
            return self.core in text
        if self.any_before:
            return text.endswith(self.core)
        if self.any_after:
            return text.startswith(self.core)
        return text == self.core


@dataclass(frozen=True, slots=True)
class Number:
    text: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class Selector:
    """A JSON path: names (object members) and indexes (array elements) from the root object."""

    text: str
    steps: tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Comparison:
    """``target operator value``; ``target`` is a selector in JSON, the field's name when space-delimited."""

    target: Selector | str
    operator: str
    value: Glob | Number | Regex


@dataclass(frozen=True, slots=True)
class Check:
    """``target IS TRUE`` and the like (JSON only)."""

    target: Selector
    test: Literal["IS TRUE", "IS FALSE", "IS NULL", "NOT EXISTS"]


@dataclass(frozen=True, slots=True)
class And:
    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Or:
    left: Condition
    right: Condition


Condition = Comparison | Check | And | Or


@dataclass(frozen=True, slots=True)
class JsonPattern:
    condition: Condition


@dataclass(frozen=True, slots=True)
class DelimitedField:
    """One position of a space-delimited pattern; ``condition`` None when any value will do."""

    name: str
    condition: Condition | None = None


@dataclass(frozen=True, slots=True)
class DelimitedPattern:
    """Fields before and after the ``...`` (all in ``before`` when there is none)."""

    before: tuple[DelimitedField, ...]
    after: tuple[DelimitedField, ...] = ()
    ellipsis: bool = False


@dataclass(frozen=True, slots=True)
class MatchAll:
    pass


Body = MatchAll | TermsPattern | RegexPattern | JsonPattern | DelimitedPattern


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled filter pattern; reusable, immutable, and :meth:`matches` never raises."""

    source: str
    body: Body
    test: MessageTest = field(init=False, repr=False, compare=False)
    """:meth:`matches` as a plain function, for loops over many messages."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", _message_test(self.body))

    def matches(self, message: str) -> bool:
        return self.test(message)

    def __str__(self) -> str:
        return self.source


# ── Parsing ─────────────────────────────────────────────────────────────────────────────────────────


def compile_pattern(text: str) -> Pattern:
    """Check ``text`` and compile it; a malformed pattern raises :class:`PatternError`. An empty or blank
    pattern matches every event."""
    if len(text) > MAX_PATTERN_LENGTH:
        raise PatternError(
            "1 validation error detected: Value at 'filterPattern' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_PATTERN_LENGTH}"
        )
    start, end = len(text) - len(text.lstrip()), len(text.rstrip())
    if start >= end:  # blank: lstrip took everything, so start is past end
        return Pattern(text, MatchAll())
    for opener, closer in (("{", "}"), ("[", "]")):
        if text[start] == opener and text[end - 1] != closer:
            raise PatternError(f"If a filter pattern starts with '{opener}' it must end with '{closer}'")
    body: Body
    if text[start] == "{":
        body = JsonPattern(_StructuredParser(text, start + 1, end - 1, delimited=False).json_condition())
    elif text[start] == "[":
        body = _StructuredParser(text, start + 1, end - 1, delimited=True).delimited_fields()
    elif end - start >= 2 and text[start] == text[end - 1] == "%":
        body = RegexPattern(_compile_regex(text[start + 1 : end - 1]))
    else:
        body = _parse_terms(text, start, end)
    return Pattern(text, body)


def _parse_terms(text: str, start: int, end: int) -> TermsPattern:
    alternatives: list[list[Term]] = [[]]
    for prefix, phrase in _term_tokens(text, start, end):
        if prefix == "?" and alternatives[-1]:
            alternatives.append([])
        # A phrase of only spaces matches everything; the empty string is in every message.
        alternatives[-1].append(Term(phrase if phrase.strip() else "", excluded=prefix == "-"))
    return TermsPattern(tuple(tuple(group) for group in alternatives))


def _term_tokens(text: str, start: int, end: int) -> Iterator[tuple[str, str]]:
    """``(prefix, phrase)`` for each term in ``text[start:end]``: prefix ``?``, ``-`` or empty; phrase
    without its quotes and escapes."""
    position = start
    while position < end:
        if text[position].isspace():
            position += 1
            continue
        prefix = text[position] if text[position] in "?-" else ""
        position += len(prefix)
        if text.startswith('"', position, end):
            phrase, position = _quoted(text, position, end)
            if position < end and not text[position].isspace():
                raise _invalid(f"a quoted term must be followed by a space (at character {position + 1})")
        else:
            word_end = position
            while word_end < end and not text[word_end].isspace():
                word_end += 1
            phrase, position = text[position:word_end], word_end
            if not phrase or not set(phrase) <= _TERM_CHARACTERS:
                raise PatternError(f"Invalid character(s) in term '{prefix}{phrase}'")
        yield prefix, phrase


def _quoted(text: str, start: int, end: int) -> tuple[str, int]:
    """The string whose opening ``"`` is at ``start`` (``\\"`` and ``\\\\`` unescaped, closed before
    ``end``), and the position after its closing quote."""
    chars: list[str] = []
    position = start + 1
    while position < end:
        char = text[position]
        if char == '"':
            return "".join(chars), position + 1
        if char == "\\" and position + 1 < end and text[position + 1] in '"\\':
            position += 1
            char = text[position]
        chars.append(char)
        position += 1
    raise _invalid(f"the quote at character {start + 1} is never closed")


def _compile_regex(source: str) -> Regex:
    """A regular expression in the guide's restricted syntax, or :class:`PatternError`."""
    if not source:
        raise _invalid("a regular expression between '%' signs is empty")
    for char in source:
        if char not in _REGEX_CHARACTERS:
            raise _invalid(f"'{char}' is not supported in a regular expression")
    _check_escapes(source)
    try:
        compiled: _Searcher = re2.compile(source, _RE2_OPTIONS)
    except re2.error as error:
        reason = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)
        raise _invalid(f"bad regular expression '{source}': {reason}") from None
    return Regex(source, compiled)


def _check_escapes(source: str) -> None:
    """Refuse the escapes the guide does not list (``\\b``, ``\\n``, a ``\\x`` without two hex digits)."""
    backslash = source.find("\\")
    while backslash != -1:
        escaped, hex_digits = source[backslash + 1 : backslash + 2], source[backslash + 2 : backslash + 4]
        if escaped == "x" and len(hex_digits) == 2 and set(hex_digits) <= _HEX_DIGITS:
            width = 4
        elif escaped and (escaped in _REGEX_CLASS_ESCAPES or not escaped.isalnum()):
            width = 2
        else:
            raise _invalid(f"'\\{escaped}' is not supported in a regular expression")
        backslash = source.find("\\", backslash + width)


_Kind = Literal["(", ")", ",", "&&", "||", "operator", "word", "string", "regex", "selector", "end"]
_PUNCTUATION: dict[str, _Kind] = {"(": "(", ")": ")", ",": ",", "&&": "&&", "||": "||"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    position: int


def _structured_tokens(text: str, start: int, end: int) -> list[_Token]:
    """Tokens of ``text[start:end]``, the inside of ``{ … }`` or ``[ … ]``, with 1-based positions in
    ``text``."""
    tokens: list[_Token] = []
    position = start
    while position < end:
        char, at = text[position], position + 1
        if char.isspace():
            position += 1
        elif char in "(),":
            tokens.append(_Token(_PUNCTUATION[char], char, at))
            position += 1
        elif text.startswith(("&&", "||"), position, end):
            pair = text[position : position + 2]
            tokens.append(_Token(_PUNCTUATION[pair], pair, at))
            position += 2
        elif text.startswith(("!=", "<=", ">="), position, end):
            tokens.append(_Token("operator", text[position : position + 2], at))
            position += 2
        elif char in "=<>":
            tokens.append(_Token("operator", char, at))
            position += 1
        elif char == '"':
            value, position = _quoted(text, position, end)
            tokens.append(_Token("string", value, at))
        elif char == "%":
            close = text.find("%", position + 1, end)
            if close == -1:
                raise _invalid(f"the '%' at character {at} opens a regular expression that is never closed")
            tokens.append(_Token("regex", text[position + 1 : close], at))
            position = close + 1
        elif char in "&|!":
            raise _invalid(f"unexpected '{char}' at character {at}")
        else:
            word_end = position + 1
            while word_end < end and text[word_end] not in _WORD_ENDS:
                word_end += 1
            tokens.append(_Token("selector" if char == "$" else "word", text[position:word_end], at))
            position = word_end
    tokens.append(_Token("end", "", end + 1))
    return tokens


class _StructuredParser:
    """Recursive descent over the tokens of a JSON or space-delimited pattern::

    condition := conjunct ("||" conjunct)*
    conjunct  := primary ("&&" primary)*
    primary   := "(" condition ")" | target OPERATOR value | selector check
    check     := "IS" ("TRUE" | "FALSE" | "NULL") | "NOT" "EXISTS"   -- JSON only
    fields    := field ("," field)* [","]        -- space-delimited only
    field     := "..." | name | condition
    """

    def __init__(self, text: str, start: int, end: int, *, delimited: bool) -> None:
        self.tokens = _structured_tokens(text, start, end)
        self.index = 0
        self.delimited = delimited
        self.regexes = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def at(self, *kinds: _Kind) -> bool:
        """Whether the current token is one of ``kinds`` (a call, which mypy does not narrow)."""
        return self.tokens[self.index].kind in kinds

    @property
    def following(self) -> _Token:
        return self.tokens[min(self.index + 1, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def unexpected(self, wanted: str) -> PatternError:
        token = self.current
        found = "the end of the pattern" if token.kind == "end" else f"'{token.text}'"
        return _invalid(f"expected {wanted} but found {found} at character {token.position}")

    def json_condition(self) -> Condition:
        condition = self.condition(depth=0)
        if not self.at("end"):
            raise self.unexpected("'&&', '||' or the closing '}'")
        return condition

    def delimited_fields(self) -> DelimitedPattern:
        fields: list[DelimitedField] = []
        ellipsis_at: int | None = None
        while True:
            if self.at("word") and self.current.text == "...":
                if ellipsis_at is not None:
                    raise _invalid(f"'...' may appear only once (again at character {self.current.position})")
                ellipsis_at = len(fields)
                self.advance()
            else:
                fields.append(self.field())
            if self.at("end"):
                break
            if not self.at(","):
                raise self.unexpected("',' or the closing ']'")
            self.advance()
            if self.at("end"):  # a trailing comma: one more field, unnamed, that any value fills
                fields.append(DelimitedField(""))
                break
        if ellipsis_at is None:
            return DelimitedPattern(tuple(fields))
        return DelimitedPattern(tuple(fields[:ellipsis_at]), tuple(fields[ellipsis_at:]), ellipsis=True)

    def field(self) -> DelimitedField:
        if self.at("word") and self.following.kind in (",", "end"):
            return DelimitedField(self.name(self.advance()))
        condition = self.condition(depth=0)
        names = sorted({target for target in _targets(condition) if isinstance(target, str)})
        if len(names) != 1:
            raise _invalid(f"the conditions of one field must all name that field, not {', '.join(names)}")
        return DelimitedField(names[0], condition)

    def condition(self, depth: int) -> Condition:
        condition = self.conjunct(depth)
        while self.at("||"):
            self.advance()
            condition = Or(condition, self.conjunct(depth))
        return condition

    def conjunct(self, depth: int) -> Condition:
        condition = self.primary(depth)
        while self.at("&&"):
            self.advance()
            condition = And(condition, self.primary(depth))
        return condition

    def primary(self, depth: int) -> Condition:
        if self.at("("):
            if depth >= MAX_DEPTH:
                raise _invalid(f"parentheses nested deeper than {MAX_DEPTH} levels")
            self.advance()
            condition = self.condition(depth + 1)
            if not self.at(")"):
                raise self.unexpected("')'")
            self.advance()
            return condition
        target = self.target()
        if self.at("operator"):
            operator_text = self.advance().text
            value = self.value()
            if operator_text not in ("=", "!=") and not isinstance(value, Number):
                raise _invalid(f"'{operator_text}' compares numbers only")
            return Comparison(target, operator_text, value)
        if isinstance(target, Selector) and self.at("word"):
            return Check(target, self.check_words())
        raise self.unexpected("a comparison operator")

    def target(self) -> Selector | str:
        if self.delimited and self.at("word"):
            return self.name(self.advance())
        if not self.delimited and self.at("selector"):
            return _selector(self.advance())
        raise self.unexpected("a field name" if self.delimited else "a selector such as $.name")

    def name(self, token: _Token) -> str:
        if token.kind != "word" or not set(token.text) <= _NAME_CHARACTERS:
            raise PatternError(f"Invalid character(s) in term '{token.text}'")
        return token.text

    def check_words(self) -> Literal["IS TRUE", "IS FALSE", "IS NULL", "NOT EXISTS"]:
        first = self.advance().text
        second = self.advance().text if self.at("word") else ""
        match (first, second):
            case ("IS", "TRUE"):
                return "IS TRUE"
            case ("IS", "FALSE"):
                return "IS FALSE"
            case ("IS", "NULL"):
                return "IS NULL"
            case ("NOT", "EXISTS"):
                return "NOT EXISTS"
        raise _invalid(f"expected IS TRUE, IS FALSE, IS NULL or NOT EXISTS, not '{first} {second}'".strip())

    def value(self) -> Glob | Number | Regex:
        if not self.at("string", "regex", "word"):
            raise self.unexpected("a value")
        token = self.advance()
        if token.kind == "string":
            return _glob(token.text)
        if token.kind == "regex":
            self.regexes += 1
            if self.regexes > MAX_REGEXES:
                raise _invalid(f"a pattern may hold at most {MAX_REGEXES} regular expressions")
            return _compile_regex(token.text)
        if _NUMBER.fullmatch(token.text):
            return Number(token.text, _decimal(token.text))
        if set(token.text) <= _VALUE_CHARACTERS:
            return _glob(token.text)
        raise PatternError(f"Invalid character(s) in term '{token.text}'")


def _selector(token: _Token) -> Selector:
    """``$.a.b[0]`` as its steps; refuses ``$``, ``$[0]``, wildcards and names with other characters."""
    steps: list[str | int] = []
    position = 1
    while position < len(token.text):
        step = _SELECTOR_STEP.match(token.text, position)
        if step is None or (step[2] is not None and not steps):
            break
        steps.append(step[1] if step[1] is not None else int(step[2]))
        position = step.end()
    if position != len(token.text) or not steps:
        raise _invalid(
            f"'{token.text}' at character {token.position} is not a selector such as $.name or $.list[0]"
        )
    return Selector(token.text, tuple(steps))


def _glob(text: str) -> Glob:
    core = text.strip("*")
    if not core:
        return Glob("", any_before=bool(text), any_after=bool(text))
    return Glob(core, any_before=text.startswith("*"), any_after=text.endswith("*"))


def _targets(condition: Condition) -> Iterator[Selector | str]:
    match condition:
        case Comparison() | Check():
            yield condition.target
        case And() | Or():
            yield from _targets(condition.left)
            yield from _targets(condition.right)


# ── Matching ────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class JsonNumber:
    """A number in an event's JSON, kept as written: string comparisons see ``1.50``, numeric ones 1.5."""

    text: str


class _Absent:
    """What a selector reaches when the event has nothing there."""


_ABSENT = _Absent()


def _message_test(body: Body) -> MessageTest:
    """The fastest function deciding ``_matches(body, message)``: terms and regular expressions skip
    the dispatch on the syntax tree, terms become closures of ``in`` tests (``terms.py``)."""
    match body:
        case MatchAll():
            return _every_message
        case TermsPattern(alternatives):
            return compile_terms([[(term.text, term.excluded) for term in group] for group in alternatives])
        case RegexPattern(regex):
            return regex.found_in
    return partial(_matches, body)


def _every_message(_message: str) -> bool:
    return True


def _matches(body: Body, message: str) -> bool:
    match body:
        case MatchAll():
            return True
        case TermsPattern(alternatives):
            return any(all(term.holds(message) for term in group) for group in alternatives)
        case RegexPattern(regex):
            return regex.found_in(message)
        case JsonPattern(condition):
            document = _json_object(message)
            return document is not None and _holds(condition, lambda target: _resolve(document, target))
        case DelimitedPattern():
            return _delimited_matches(body, _split_fields(message))


def _not_json_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_int=JsonNumber, parse_float=JsonNumber, parse_constant=_not_json_constant)
"""Built once: ``json.loads`` with keyword arguments builds a decoder per call."""


def _json_object(message: str) -> dict[str, object] | None:
    if not message.lstrip(" \t\n\r").startswith("{"):  # not an object: no need to parse it to know
        return None
    try:
        document = _DECODER.decode(message)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _resolve(document: object, target: Selector | str) -> object:
    if not isinstance(target, Selector):
        return _ABSENT
    node = document
    for step in target.steps:
        if isinstance(node, dict) and isinstance(step, str):
            node = node.get(step, _ABSENT)
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return _ABSENT
    return node


def _split_fields(message: str) -> list[str]:
    """The event's space-delimited fields; a field opening with ``"`` or ``[`` runs to the closing one."""
    fields: list[str] = []
    position = 0
    while position < len(message):
        char = message[position]
        if char == " ":
            position += 1
        elif char in '"[':
            close = message.find('"' if char == '"' else "]", position + 1)
            end = close if close != -1 else len(message)
            fields.append(message[position + 1 : end])
            position = end + 1
        else:
            end = message.find(" ", position)
            end = end if end != -1 else len(message)
            fields.append(message[position:end])
            position = end
    return fields


def _delimited_matches(pattern: DelimitedPattern, values: list[str]) -> bool:
    if pattern.ellipsis:
        if len(values) < len(pattern.before) + len(pattern.after):
            return False
        tail = values[len(values) - len(pattern.after) :]
        pairs = [*zip(pattern.before, values, strict=False), *zip(pattern.after, tail, strict=True)]
    else:
        if len(values) != len(pattern.before):
            return False
        pairs = list(zip(pattern.before, values, strict=True))
    return all(_field_accepts(spec, text) for spec, text in pairs)


def _field_accepts(spec: DelimitedField, text: str) -> bool:
    return spec.condition is None or _holds(spec.condition, lambda _name: text)


def _holds(condition: Condition, lookup: Callable[[Selector | str], object]) -> bool:
    match condition:
        case And(left, right):
            return _holds(left, lookup) and _holds(right, lookup)
        case Or(left, right):
            return _holds(left, lookup) or _holds(right, lookup)
        case Check(target, test):
            value = lookup(target)
            if test == "NOT EXISTS":
                return value is _ABSENT
            return value is {"IS TRUE": True, "IS FALSE": False, "IS NULL": None}[test]
        case Comparison(target, operator_text, expected):
            return _compare(lookup(target), operator_text, expected)


def _compare(value: object, operator_text: str, expected: Glob | Number | Regex) -> bool:
    """Whether a JSON value or field text satisfies ``operator expected``; false when it does not apply."""
    if isinstance(expected, Number):
        number = _as_number(value)
        return number is not None and _ORDER[operator_text](number, expected.value)
    text = value.text if isinstance(value, JsonNumber) else value
    if not isinstance(text, str):
        return False
    fits = expected.found_in(text) if isinstance(expected, Regex) else expected.fits(text)
    return fits == (operator_text == "=")


def _as_number(value: object) -> Decimal | None:
    if isinstance(value, JsonNumber):
        return _decimal(value.text)
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        return _decimal(value)
    return None


def _decimal(text: str) -> Decimal:
    """``text`` exactly, or for an exponent beyond Decimal's range (``1e9999999999999999999``) the
    infinity or zero it rounds to as a float."""
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal(float(text))
