"""The CloudWatch Logs filter pattern language (control/logs/pattern.py).

Most cases are the examples of AWS's guide, "Filter pattern syntax for metric filters, subscription filters,
filter log events, and Live Tail", with the events it says each pattern does and does not match.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.control.logs.pattern import MAX_PATTERN_LENGTH, Pattern, PatternError, compile_pattern


def matching(pattern: str, events: list[str]) -> list[str]:
    compiled = compile_pattern(pattern)
    return [event for event in events if compiled.matches(event)]


# ── Unstructured terms ──────────────────────────────────────────────────────────────────────────────

FATAL = "[ERROR] A fatal exception has occurred"
EXITING = "Exiting with ERRORCODE: -1"
OR_EVENTS = ["ERROR WARN message", "ERROR message", "WARN message"]


def test_a_term_matches_anywhere_in_the_event_and_case_matters() -> None:
    assert matching("ERROR", [FATAL, EXITING, "[error] lower case", "INFO all good"]) == [FATAL, EXITING]


def test_an_excluded_term_removes_events_that_have_it() -> None:
    assert matching("ERROR -Exiting", [FATAL, EXITING]) == [FATAL]
    assert matching('ERROR -"Exiting with"', [FATAL, EXITING]) == [FATAL]
    assert matching("-ERROR", [FATAL, EXITING, "INFO all good"]) == ["INFO all good"]


def test_several_terms_must_all_appear() -> None:
    caught, unhandled = "[ERROR] Caught IllegalArgumentException", "[ERROR] Unhandled Exception"
    # FATAL has "exception", not "Exception".
    assert matching("ERROR Exception", [caught, unhandled, FATAL]) == [caught, unhandled]
    events = [
        "[WARN] Failed to process the request",
        "[ERROR] Unable to continue: Failed to process the request",
    ]
    assert matching("Failed to process the request", [*events, "Failed to start"]) == events


def test_the_guides_or_examples() -> None:
    assert matching("ERROR", OR_EVENTS) == OR_EVENTS[:2]
    assert matching("?ERROR ?WARN", OR_EVENTS) == OR_EVENTS
    assert matching("ERROR WARN", OR_EVENTS) == OR_EVENTS[:1]
    assert matching("ERROR -WARN", OR_EVENTS) == OR_EVENTS[1:2]


def test_a_quoted_phrase_matches_exactly_with_its_spaces_and_punctuation() -> None:
    internal = "[ERROR 500] INTERNAL SERVER ERROR"
    events = [internal, "[ERROR 500] INTERNAL ERROR: SERVER", "[ERROR 401] UNAUTHORIZED REQUEST"]
    assert matching('"INTERNAL SERVER ERROR"', events) == [internal]
    assert matching('"ERRORCODE: -1"', [FATAL, EXITING]) == [EXITING]
    assert matching('"user@example.com"', ["login user@example.com", "login user"]) == [
        "login user@example.com"
    ]


def test_quoted_phrases_take_backslash_escapes_as_the_aws_cdk_writes_them() -> None:
    assert matching(r'"say \"hi\""', ['they say "hi"', "they say hi"]) == ['they say "hi"']
    assert matching(r'"C:\\temp"', [r"open C:\temp", "open C:temp"]) == [r"open C:\temp"]


def test_terms_after_a_question_mark_join_its_alternative() -> None:
    # AWS CDK's FilterPattern.anyTermGroup(["ERROR", "MainThread"], ["WARN", "Deadlock"]) writes this.
    pattern = '?"ERROR" "MainThread" ?"WARN" "Deadlock"'
    events = ["ERROR in MainThread", "WARN Deadlock found", "ERROR Deadlock", "WARN MainThread"]
    assert matching(pattern, events) == events[:2]
    # (ERROR and not MainThread) or WARN
    assert matching("?ERROR -MainThread ?WARN", events) == events[1:]


def test_a_blank_pattern_or_blank_phrase_matches_every_event() -> None:
    for pattern in ("", "   ", "\t\n", '" "'):
        assert matching(pattern, ["", "anything", "{}"]) == ["", "anything", "{}"]


def test_unicode_is_matched_when_quoted() -> None:
    assert matching('"Zoë"', ["user Zoë logged in", "user Zoe logged in"]) == ["user Zoë logged in"]
    assert matching("ERROR", ["ERROR ☃ snowman"]) == ["ERROR ☃ snowman"]
    with pytest.raises(PatternError, match="Invalid character"):
        compile_pattern("Zoë")


# ── JSON ────────────────────────────────────────────────────────────────────────────────────────────

TRAIL_EVENT = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
    }
)
USERS_EVENT = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.eventType = "UpdateTrail" }',
        "{ $.sourceIPAddress != 123.123.* }",
        '{ $.arrayKey[0] = "value" }',
        "{ $.objectList[1].id = 2 }",
        "{ $.SomeObject IS NULL }",
        "{ $.SomeOtherObject NOT EXISTS }",
        "{ $.ThisFlag IS TRUE }",
    ],
)
def test_the_guides_json_examples_match_its_event(pattern: str) -> None:
    assert compile_pattern(pattern).matches(TRAIL_EVENT)


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.eventType = "CreateTrail" }',
        "{ $.sourceIPAddress != 111.111.* }",
        '{ $.arrayKey[0] = "another value" }',
        "{ $.arrayKey[2] = value }",  # past the end
        "{ $.objectList[1].id = 1 }",
        "{ $.eventType[0] = UpdateTrail }",  # not an array
        "{ $.objectList[0].missing = a }",
        "{ $.SomeObject NOT EXISTS }",  # null is there
        "{ $.ThisFlag IS NULL }",
        "{ $.ThisFlag IS FALSE }",
        "{ $.SomeOtherObject IS NULL }",
    ],
)
def test_near_misses_of_the_guides_json_examples_do_not_match(pattern: str) -> None:
    assert not compile_pattern(pattern).matches(TRAIL_EVENT)


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', True),
        ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', False),
        (
            '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch'
            " && $.actions[2] = nomatch }",
            True,
        ),
        (
            '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch)'
            " && $.actions[2] = nomatch }",
            False,
        ),
        ("{ $.coordinates[2][0] = 7 && $.actions[1] = PUT }", True),
    ],
)
def test_compound_conditions_bind_and_tighter_than_or(pattern: str, matches: bool) -> None:
    assert compile_pattern(pattern).matches(USERS_EVENT) is matches


def test_the_guides_json_or_examples() -> None:
    events = ['{"foo": "bar"}', '{"foo": "baz"}']
    assert matching("{$.foo = bar}", events) == events[:1]
    assert matching("{$.foo = baz }", events) == events[1:]
    assert matching("{$.foo = bar || $.foo = baz }", events) == events


def test_a_selector_on_an_object_or_array_matches_neither_equal_nor_unequal() -> None:
    event = '{"users": [1, 2, 3], "owner": {"id": 1}}'
    for pattern in ("{ $.users = 1 }", "{ $.users != 1 }", "{ $.owner = * }", "{ $.owner != x }"):
        assert not compile_pattern(pattern).matches(event), pattern


def test_a_missing_field_matches_neither_equal_nor_unequal_only_not_exists() -> None:
    event = '{"level": "INFO"}'
    assert matching("{ $.code != 500 }", [event]) == []
    assert matching("{ $.code != x }", [event]) == []
    assert matching("{ $.code NOT EXISTS }", [event]) == [event]


@pytest.mark.parametrize(
    ("pattern", "hit", "miss"),
    [
        ("{ $.latency >= 500 }", {"latency": 500}, {"latency": 499.9}),
        ("{ $.numbers[0] < 10e3 }", {"numbers": [9999]}, {"numbers": [10000]}),
        ("{ $.numbers[0] < 10e-3 }", {"numbers": [0.009]}, {"numbers": [0.01]}),
        (
            "{ $.processes[4].averageRuntime <= 55.5 }",
            {"processes": [0, 0, 0, 0, {"averageRuntime": 55.5}]},
            {"processes": [0, 0, 0, 0, {"averageRuntime": 55.51}]},
        ),
        ("{ $.errorCode = 400 }", {"errorCode": 400}, {"errorCode": 404}),
        ("{ $.errorCode != 500 }", {"errorCode": 404}, {"errorCode": 500}),
        ("{ $.latency > +1000 }", {"latency": 1001}, {"latency": 1000}),
        ("{ $.delta > -1.5 }", {"delta": -1}, {"delta": -2}),
        ("{ $.size = 1.5E3 }", {"size": 1500}, {"size": 150}),
    ],
)
def test_the_guides_numeric_comparisons(pattern: str, hit: object, miss: object) -> None:
    compiled = compile_pattern(pattern)
    assert compiled.matches(json.dumps(hit))
    assert not compiled.matches(json.dumps(miss))


def test_numbers_compare_by_value_and_strings_holding_a_plain_decimal_count_as_numbers() -> None:
    assert compile_pattern("{ $.n = 1 }").matches('{"n": 1.0}')
    assert compile_pattern("{ $.n = 100 }").matches('{"n": 1e2}')
    assert compile_pattern("{ $.n > 5 }").matches('{"n": "10"}')
    # The guide: strings in scientific notation are not numbers; nor are booleans or words.
    for value in ('"1e3"', "true", '"ten"', "null"):
        assert not compile_pattern("{ $.n > 5 }").matches(f'{{"n": {value}}}'), value
        assert not compile_pattern("{ $.n != 5 }").matches(f'{{"n": {value}}}'), value


def test_numbers_beyond_any_precision_still_compare() -> None:
    huge, tiny = "1e9999999999999999999999", "1e-9999999999999999999999"
    assert compile_pattern("{ $.n > 1 }").matches(f'{{"n": {huge}}}')
    assert compile_pattern(f"{{ $.n < {tiny} }}").matches('{"n": -1}')
    assert compile_pattern("{ $.n = 1 }").matches('{"n": 1.' + "0" * 5000 + "}")


def test_a_string_value_compares_with_a_number_as_the_event_writes_it() -> None:
    assert compile_pattern('{ $.price = "1.50" }').matches('{"price": 1.50}')
    assert not compile_pattern('{ $.price = "1.5" }').matches('{"price": 1.50}')
    assert compile_pattern("{ $.code = 4* }").matches('{"code": 404}')
    # The guide publishes a metric from { $.latency = * } with a numeric latency.
    assert compile_pattern("{ $.latency = * }").matches('{"latency": 50, "requestType": "GET"}')
    assert not compile_pattern("{ $.latency = * }").matches('{"requestType": "GET"}')


def test_a_boolean_is_not_the_word_true() -> None:
    assert not compile_pattern("{ $.flag = true }").matches('{"flag": true}')
    assert compile_pattern("{ $.flag = true }").matches('{"flag": "true"}')
    assert compile_pattern("{ $.flag IS FALSE }").matches('{"flag": false}')
    assert not compile_pattern("{ $.flag IS FALSE }").matches('{"flag": 0}')


@pytest.mark.parametrize(
    ("value", "hits", "misses"),
    [
        ("*Event", ["PutEvent", "GetEvent", "Event"], ["EventId", "PutEvents"]),
        ("Event*", ["EventId", "EventName"], ["PutEvent"]),
        ("Ev*ent", ["Ev*ent"], ["Event", "Evxent"]),
        ('"*html*"', ["GET /index.html HTTP/1.0"], ["GET /index.htm"]),
        ("*", ["", "anything"], []),
    ],
)
def test_a_star_is_a_wildcard_at_the_start_or_end_only(
    value: str, hits: list[str], misses: list[str]
) -> None:
    compiled = compile_pattern(f"{{ $.name = {value} }}")
    for name in hits:
        assert compiled.matches(json.dumps({"name": name})), name
    for name in misses:
        assert not compiled.matches(json.dumps({"name": name})), name


def test_json_patterns_only_match_json_objects() -> None:
    compiled = compile_pattern("{ $.a NOT EXISTS }")
    for event in (
        "plain text",
        "[1, 2]",
        '"a string"',
        "42",
        "{broken",
        '{"a": NaN}',
        '{"b": 1} trailing',
        "",
    ):
        assert not compiled.matches(event), event
    assert compiled.matches('  {"b": "Zoë ☃"}  ')
    deeply_nested = "[" * 100_000 + "]" * 100_000
    assert not compiled.matches(deeply_nested)


def test_json_values_with_unicode_are_quoted() -> None:
    assert compile_pattern('{ $.name = "Zoë" }').matches('{"name": "Zo\\u00eb"}')
    assert compile_pattern('{ $.user-name_2 = "a@b" }').matches('{"user-name_2": "a@b"}')


# ── Space-delimited ─────────────────────────────────────────────────────────────────────────────────

APACHE = [
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
    '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324',
    '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355',
]
NOT_FOUND = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
SEVEN = "[ip, user, username, timestamp, request, status_code, bytes]"


@pytest.mark.parametrize(
    "pattern",
    [SEVEN, "[..., status_code, bytes]", "[ip, user, ..., status_code, bytes]", "[ip, user, ...]", "[...]"],
)
def test_brackets_and_quotes_hold_one_field_and_the_ellipsis_any_number(pattern: str) -> None:
    assert matching(pattern, [*APACHE, NOT_FOUND]) == [*APACHE, NOT_FOUND]


def test_the_number_of_fields_must_match_without_an_ellipsis() -> None:
    assert matching("[ip, user, username, timestamp, request, status_code]", APACHE) == []
    assert matching("[ip, user, username, timestamp, request, status_code, bytes, extra]", APACHE) == []
    assert matching("[a, b, c, ...]", ["one two"]) == []


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", [*APACHE, NOT_FOUND]),
        ("[ip, user, username, timestamp, request, status_code, bytes > 5000]", APACHE[1:2]),
        ("[ip, user, username, timestamp, request, status_code = 200, bytes]", [APACHE[0], APACHE[2]]),
        ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", [NOT_FOUND]),
        ("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", [NOT_FOUND]),
        ("[ip, user, username, timestamp, request = *gif*, status_code = 4*, bytes]", []),
        (
            "[ip, user, username, timestamp, request, status_code = 403 || status_code = 404, bytes]",
            [NOT_FOUND],
        ),
        (
            "[ip, user, username, timestamp, request, status_code = 5* && status_code != 503, bytes]",
            APACHE[1:2],
        ),
        ('[ip, user, username, timestamp = "10/Oct/2000:13:25:15 -0700", ...]', [APACHE[0], NOT_FOUND]),
        ('[ip, user, username, timestamp, request = "GET /index.html HTTP/1.0", ...]', [NOT_FOUND]),
        ("[ip, user = -, ...]", [*APACHE, NOT_FOUND]),
    ],
)
def test_the_guides_field_conditions(pattern: str, expected: list[str]) -> None:
    assert matching(pattern, [*APACHE, NOT_FOUND]) == expected


def test_a_trailing_comma_adds_one_field_as_in_the_guides_extraction_example() -> None:
    # The guide extracts $request, $status_code and "$7": "1534" from this event with this pattern.
    assert matching("[..., request=*.html*, status_code=4*,]", [NOT_FOUND, *APACHE]) == [NOT_FOUND]
    assert matching("[a, b,]", ["one two three"]) == ["one two three"]
    assert matching("[a, b,]", ["one two"]) == []


def test_the_guides_space_delimited_or_examples() -> None:
    assert matching("[w1=ERROR, w2]", OR_EVENTS) == OR_EVENTS[1:2]
    assert matching("[w1=ERROR || w1=WARN, w2]", OR_EVENTS) == OR_EVENTS[1:]


def test_a_numeric_condition_needs_a_number_in_the_field() -> None:
    events = ["200 -", "200 11", "200 11.5", "200 1e3", "200 0x20"]
    assert matching("[status, bytes > 10]", events) == ["200 11", "200 11.5"]
    assert matching("[status, bytes != 10]", ["200 -", "200 11"]) == ["200 11"]


def test_fields_split_on_spaces_and_an_unclosed_group_runs_to_the_end() -> None:
    assert matching("[a, b, c]", ["x  y   z", " x y z "]) == ["x  y   z", " x y z "]
    assert matching('[a, b = "y z"]', ['x "y z', "x [y z", "x y z"]) == ['x "y z', "x [y z"]
    assert matching("[a, b = *z*]", ["x [y z"]) == ["x [y z"]


# ── Regular expressions ─────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("pattern", "hits", "misses"),
    [
        (
            "%AUTHORIZED%",
            ["[ERROR 401] UNAUTHORIZED REQUEST", "[SUCCESS 200] AUTHORIZED REQUEST"],
            ["[SUCCESS 200] OK"],
        ),
        (r"%\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}%", ["from 10.0.0.1 ok"], ["from 10.0.0 ok", "from 10.0.x.1"]),
        ("%[Ee]rror|[Ff]ail%", ["Error here", "error here", "Failed", "failed"], ["ERROR", "FAIL"]),
        ("%^[hc]at%", ["hat trick", "cat nap"], ["the cat"]),
        ("%[hc]at$%", ["the cat", "a hat"], ["cat nap"]),
        ("%colou?r%", ["color", "colour"], ["colouur"]),
        ("%[abcx-z]%", ["a", "y"], ["d", "w"]),
        ("%a{3,5}%", ["aaa", "baaaab"], ["aa", "a a a"]),
        ("%gray|grey%", ["gray", "grey"], ["gry"]),
        (r"%10\.10\.0\.1%", ["10.10.0.1"], ["10a10b0c1"]),
        ("%ab*c%", ["ac", "abbbc"], ["adc"]),
        ("%ab+c%", ["abc", "abbc"], ["ac"]),
        ("%a.c%", ["abc", "a-c"], ["ac"]),
        (r"%ERROR\s500%", ["ERROR 500", "ERROR\t500"], ["ERROR500"]),
        (r"%\x28\w+\x29%", ["call (x1)"], ["call x1", "call (é)"]),
        (r"%^\S+@\S+$%", ["a@b"], ["a @b"]),
        ("%user_id=#12;path=/a,b-c:%", ["user_id=#12;path=/a,b-c:"], ["user_id=#12"]),
        (r"%[]a-]x%", ["]x", "ax", "-x"], ["bx"]),
        (r"%\[.\]%", ["[x]"], ["x"]),
    ],
)
def test_the_guides_regular_expressions(pattern: str, hits: list[str], misses: list[str]) -> None:
    assert matching(pattern, hits + misses) == hits


def test_regular_expressions_take_linear_time_on_long_events() -> None:
    # A backtracking engine needs minutes for this pair; the event is a quarter of the 256 KB maximum.
    assert not compile_pattern("%.*.*.*x%").matches("a" * 64_000)
    assert compile_pattern("%a*a*a*a*b%").matches("a" * 64_000 + "b")


def test_regular_expressions_accept_events_with_lone_surrogates() -> None:
    # PutLogEvents' JSON may carry "\ud800", which no UTF-8 encoder takes.
    assert compile_pattern("%^a.b$%").matches("a\ud800b")
    assert compile_pattern("{ $.m = %b$% }").matches('{"m": "a\\ud800b"}')


def test_regular_expressions_inside_json_and_space_delimited_patterns() -> None:
    update, other = '{"eventName": "UpdateTrail"}', '{"eventName": "DeleteTrail"}'
    assert matching("{ $.eventName = %^Update.*% }", [update, other]) == [update]
    codes = ['{"code": 404}', '{"code": 503}', '{"code": [1]}']
    assert matching("{ $.code != %^5% }", codes) == codes[:1]
    pattern = r"[..., request = %\.html%, status_code = %4[0-9]{2}%, bytes]"
    assert matching(pattern, [*APACHE, NOT_FOUND]) == [NOT_FOUND]


# ── Malformed patterns ──────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("ERROR:", "Invalid character(s) in term 'ERROR:'"),
        ("request-id", "Invalid character(s) in term 'request-id'"),
        ("user@example.com", "Invalid character"),
        ("? ERROR", "Invalid character(s) in term '?'"),
        ("ERROR -", "Invalid character(s) in term '-'"),
        ("?-ERROR", "Invalid character"),
        ('"unterminated', "never closed"),
        ('"ERROR"500', "followed by a space"),
        ("ERROR %x%", "Invalid character"),
        ("{ $.a = 1", "If a filter pattern starts with '{' it must end with '}'"),
        ("[a, b", "If a filter pattern starts with '[' it must end with ']'"),
        ("{ $.a = 1 } && { $.b = 2 }", "Invalid filter pattern"),
        ("{}", "Invalid filter pattern"),
        ("{ $.a }", "comparison operator"),
        ("{ $.a = }", "expected a value"),
        ("{ $.a == 1 }", "expected a value"),
        ("{ $.a = 1 && }", "selector"),
        ("{ ($.a = 1 }", "expected ')'"),
        ("{ $.a = 1) }", "Invalid filter pattern"),
        ("{ $.a = 1 & $.b = 2 }", "unexpected '&'"),
        ("{ $.a = 1 | $.b = 2 }", "unexpected '|'"),
        ("{ $.a ! 1 }", "unexpected '!'"),
        ("{ a = 1 }", "selector"),
        ("{ $ = 1 }", "not a selector"),
        ("{ $[0] = 1 }", "not a selector"),
        ("{ $.* = 1 }", "not a selector"),
        ("{ $.a[*] = 1 }", "not a selector"),
        ("{ $.a.@b = 1 }", "not a selector"),
        ("{ $.a > abc }", "compares numbers only"),
        ('{ $.a < "5" }', "compares numbers only"),
        ("{ $.a = user@example.com }", "Invalid character"),
        ("{ $.a IS }", "IS TRUE, IS FALSE, IS NULL or NOT EXISTS"),
        ("{ $.a IS MAYBE }", "IS TRUE, IS FALSE, IS NULL or NOT EXISTS"),
        ("{ $.a is null }", "IS TRUE, IS FALSE, IS NULL or NOT EXISTS"),
        ("{ $.a EXISTS }", "IS TRUE, IS FALSE, IS NULL or NOT EXISTS"),
        ("{ $.a = %x% || $.b = %y% || $.c = %z% }", "at most 2 regular expressions"),
        ("{ $.a = %x }", "never closed"),
        ("[]", "field name"),
        ("[a,,b]", "field name"),
        ("[..., a, ...]", "'...' may appear only once"),
        ("[a b]", "comparison operator"),
        ("[a = 1 b]", "',' or the closing ']'"),
        (
            "[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]",
            "must all name that field",
        ),
        ("[a = 1 || b = 2]", "must all name that field"),
        ("[a IS NULL]", "comparison operator"),
        ("[$.a = 1]", "field name"),
        ("[a@b]", "Invalid character"),
        ("%%", "empty"),
        ("%something!%", "'!' is not supported"),
        ("%(a|b)%", "'(' is not supported"),
        (r"%\(a\)%", "'(' is not supported"),
        ("%ERROR 500%", "' ' is not supported"),
        ("%café%", "'é' is not supported"),
        (r"%\bword%", r"'\b' is not supported"),
        (r"%\x2%", r"'\x' is not supported"),
        ("%abc\\%", r"'\' is not supported"),
        ("%[a-%", "bad regular expression"),
        ("%*a%", "bad regular expression"),
        ("%a{3,1}%", "bad regular expression"),
    ],
)
def test_malformed_patterns_are_refused_with_a_reason(pattern: str, fragment: str) -> None:
    with pytest.raises(PatternError) as excinfo:
        compile_pattern(pattern)
    assert fragment in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


def test_the_length_limit_is_the_apis_1024_characters() -> None:
    longest = '"' + "x" * (MAX_PATTERN_LENGTH - 2) + '"'
    assert compile_pattern(longest).matches("x" * 2000)
    with pytest.raises(PatternError, match="less than or equal to 1024"):
        compile_pattern(longest + " ")


def test_reasons_point_at_the_character_in_the_pattern_as_given() -> None:
    with pytest.raises(PatternError, match="found the end of the pattern at character 9"):
        compile_pattern("  { $.a }")
    with pytest.raises(PatternError, match="found 'b' at character 4"):
        compile_pattern("[a b]")


def test_parentheses_nest_only_so_deep() -> None:
    def nested(depth: int) -> str:
        return "{ " + "(" * depth + "$.a = 1" + ")" * depth + " }"

    assert compile_pattern(nested(64)).matches('{"a": 1}')
    with pytest.raises(PatternError, match="nested deeper"):
        compile_pattern(nested(65))


# ── Properties ──────────────────────────────────────────────────────────────────────────────────────

WORDS = st.text(alphabet="abcXYZ_09", min_size=1, max_size=6)
EVENTS = st.text(alphabet="abcXYZ_09 ", max_size=30)


def quote(phrase: str) -> str:
    return '"' + phrase.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(st.text(min_size=1).filter(lambda phrase: phrase.strip() != ""), st.text())
def test_a_quoted_phrase_matches_exactly_the_events_containing_it(phrase: str, event: str) -> None:
    assert compile_pattern(quote(phrase)).matches(event + phrase + event)
    assert compile_pattern(quote(phrase)).matches(event) is (phrase in event)


@given(WORDS, WORDS, EVENTS)
def test_terms_combine_as_and_or_and_not(first: str, second: str, event: str) -> None:
    def has(term: str) -> bool:
        return compile_pattern(term).matches(event)

    assert compile_pattern(f"{first} {second}").matches(event) is (has(first) and has(second))
    assert compile_pattern(f"?{first} ?{second}").matches(event) is (has(first) or has(second))
    assert compile_pattern(f"{first} -{second}").matches(event) is (has(first) and not has(second))


@given(st.lists(WORDS, min_size=1, max_size=6), st.integers(min_value=1, max_value=6))
def test_bare_field_names_match_events_with_that_many_fields(words: list[str], names: int) -> None:
    pattern = "[" + ", ".join(f"f{index}" for index in range(names)) + "]"
    assert compile_pattern(pattern).matches(" ".join(words)) is (len(words) == names)
    assert compile_pattern(pattern[:-1] + ", ...]").matches(" ".join(words)) is (len(words) >= names)


NUMBERS = st.one_of(st.integers(-(10**6), 10**6), st.decimals(-1000, 1000, places=3, allow_nan=False))


@given(NUMBERS, NUMBERS, st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
def test_json_numeric_comparisons_agree_with_arithmetic(
    actual: int | Decimal, bound: int | Decimal, operator: str
) -> None:
    results = {
        "=": actual == bound,
        "!=": actual != bound,
        "<": actual < bound,
        "<=": actual <= bound,
        ">": actual > bound,
        ">=": actual >= bound,
    }
    compiled = compile_pattern(f"{{ $.v {operator} {bound} }}")
    assert compiled.matches(f'{{"v": {actual}}}') is results[operator]


PATTERN_ALPHABET = ' \t\n{}[]()%"\\?-$.=<>!&|,*aZ09_@é'


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from("abc"), children),
    max_leaves=8,
)


@given(st.dictionaries(st.sampled_from("abc"), JSON_VALUES))
def test_json_checks_agree_with_the_decoded_event(document: dict[str, object]) -> None:
    event = json.dumps(document)
    value = document.get("a")
    assert compile_pattern("{ $.a NOT EXISTS }").matches(event) is ("a" not in document)
    assert compile_pattern("{ $.a IS NULL }").matches(event) is ("a" in document and value is None)
    assert compile_pattern("{ $.a IS TRUE }").matches(event) is (value is True)
    scalar = isinstance(value, str | int | float) and not isinstance(value, bool)
    assert compile_pattern("{ $.a = * }").matches(event) is scalar
    assert isinstance(compile_pattern("{ $.a.b[0] > 1 || $.c[1] != x }").matches(event), bool)


@given(st.one_of(st.text(max_size=60), st.text(alphabet=PATTERN_ALPHABET, max_size=40)))
def test_any_text_either_compiles_or_raises_pattern_error(text: str) -> None:
    try:
        compiled = compile_pattern(text)
    except PatternError:
        return
    assert isinstance(compiled.matches(text), bool)


SAMPLE_PATTERNS = ['{ $.a = "x" || $.b > 1 }', "[a, b = 4*, ...]", "?x -y", "%^a+%", ""]


@given(st.sampled_from(SAMPLE_PATTERNS), st.text(max_size=80))
def test_matching_never_raises_and_is_repeatable(pattern: str, event: str) -> None:
    compiled = compile_pattern(pattern)
    assert compiled.matches(event) is compiled.matches(event)


def test_a_pattern_is_immutable_and_equal_to_the_same_pattern_compiled_again() -> None:
    pattern = compile_pattern('{ $.level = "ERROR" && $.code = %^5% }')
    assert pattern == compile_pattern('{ $.level = "ERROR" && $.code = %^5% }')
    assert isinstance(pattern, Pattern)
    assert str(pattern) == '{ $.level = "ERROR" && $.code = %^5% }'
    with pytest.raises(dataclasses.FrozenInstanceError):
        pattern.source = "other"  # type: ignore[misc]
