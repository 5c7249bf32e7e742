"""Recipe row filters (`data.train_where`, `data.test_where`): parsing, matching, errors users see, hostile input."""

from __future__ import annotations

import ast
import builtins
import csv

import pytest
from conftest import POSTERS

from mmgenre.data.filters import And, Comparison, FilterError, Not, Or, leading_number, parse_filter
from mmgenre.errors import MmgenreError

SATURN = {"title": "Saturn 3", "year": "1980", "language": "English, French", "runtime": "96 min", "imdb_rating": "5.0"}


def matches(text: str, **meta: str) -> bool:
    return parse_filter(text).matches(meta)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("year = 1980", True),
        ("year == 1980", True),
        ("year = 1980.0", True),
        ("year != 1980", False),
        ("year < 1980", False),
        ("year <= 1980", True),
        ("year > 1979", True),
        ("year >= 1981", False),
        ("imdb_rating > 4.9", True),
        ("imdb_rating < +5", False),
        ("imdb_rating > -1", True),
        ("imdb_rating >= .5", True),
    ],
)
def test_numeric_comparisons(text, expected):
    assert parse_filter(text).matches(SATURN) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('title = "saturn 3"', True),  # case-insensitive
        ('title = "  SATURN 3 "', True),  # stripped
        ('title != "Saturn 3"', False),
        ('title != "Saturn"', True),
        ('title < "t"', True),  # strings compare as strings, case-insensitively
        ('title > "SATURN"', True),
        ('title >= "z"', False),
        ('language = "English"', False),  # the whole cell, not one of its languages
        ('language = "english, french"', True),
    ],
)
def test_string_comparisons(text, expected):
    assert parse_filter(text).matches(SATURN) is expected


def test_string_equality_strips_the_cell_too():
    assert matches('language = "English"', language="  English\t")
    assert not matches('language != "english"', language=" ENGLISH ")


def test_and_binds_tighter_than_or():
    condition = parse_filter("a = 1 or b = 1 and c = 1")
    assert condition.tree == Or(
        (Comparison("a", "=", 1.0), And((Comparison("b", "=", 1.0), Comparison("c", "=", 1.0))))
    )
    assert condition.matches({"a": "1", "b": "0", "c": "0"}) is True  # (a or b) and c would be False
    assert condition.matches({"a": "0", "b": "1", "c": "0"}) is False
    assert condition.matches({"a": "0", "b": "1", "c": "1"}) is True


def test_parentheses_group():
    condition = parse_filter("(a = 1 or b = 1) and c = 1")
    assert condition.tree == And(
        (Or((Comparison("a", "=", 1.0), Comparison("b", "=", 1.0))), Comparison("c", "=", 1.0))
    )
    assert condition.matches({"a": "1", "b": "0", "c": "0"}) is False
    assert condition.matches({"a": "1", "b": "0", "c": "1"}) is True
    assert parse_filter("((((year = 1980))))").matches(SATURN) is True


def test_keywords_are_case_insensitive():
    assert parse_filter("year = 1980 AND title = x Or year < 2000").matches(SATURN) is True
    assert parse_filter("year = 1980 And title = x").matches(SATURN) is False


def test_not():
    assert parse_filter("not year < 1990").matches(SATURN) is False
    assert parse_filter("NOT (year = 1 or title = x)").matches(SATURN) is True
    assert parse_filter("not year = 1 and year = 1980").tree == And(
        (Not(Comparison("year", "=", 1.0)), Comparison("year", "=", 1980.0))
    )
    assert parse_filter("not not year = 1980").tree == Comparison("year", "=", 1980.0)
    assert parse_filter("not not not year = 1980").matches(SATURN) is False


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        (r'title = "Say \"Hi\""', 'Say "Hi"'),
        (r"title = 'It\'s'", "It's"),
        (r"title = 'a\\b'", "a\\b"),
        ("title = 'he said \"no\"'", 'he said "no"'),
        ('title = "a and b or (c)"', "A AND B OR (C)"),  # keywords and parentheses inside quotes are text
        ('title = "1980"', "1980"),  # a quoted number is a string
    ],
)
def test_quoted_values_and_escapes(text, cell):
    assert matches(text, title=cell)
    assert not matches(text, title=cell + "x")


def test_back_quoted_columns():
    condition = parse_filter("`imdb rating` >= 7 and `box-office` = x")
    assert condition.columns == frozenset({"imdb rating", "box-office"})
    assert parse_filter(r"`odd\`name` = 1").columns == frozenset({"odd`name"})
    assert parse_filter("`imdb rating` >= 7").matches({"imdb rating": "7.8"}) is True
    assert parse_filter("`imdb rating` >= 7").matches({"imdb rating": "6.9"}) is False


def test_bare_words_are_strings():
    assert parse_filter("language = english").tree == Comparison("language", "=", "english")
    assert matches("language = English", language="ENGLISH")
    assert not matches("language = English", language="English, French")
    assert matches("rated != PG13", rated="R")


@pytest.mark.parametrize(
    ("cell", "number"),
    [("1980", 1980), ("96 min", 96), ("5.0", 5.0), ("1980–1985", 1980), (" -3.5x", -3.5), ("N/A", None), ("", None)],
)
def test_leading_number(cell, number):
    assert leading_number(cell) == number


def test_numeric_comparison_uses_the_leading_number_of_the_cell():
    assert matches("runtime > 95", runtime="96 min")
    assert not matches("runtime > 96", runtime="96 min")
    assert matches("year = 1980", year="1980–1985")
    assert matches("imdb_rating = 5", imdb_rating="5.0")


@pytest.mark.parametrize("cell", ["", "   ", "N/A", "unknown"])
def test_a_cell_without_a_number_never_matches_a_numeric_comparison(cell):
    for op in ("=", "!=", "<", "<=", ">", ">="):
        assert not matches(f"year {op} 1980", year=cell)
    assert matches("not year = 1980", year=cell)  # `not` inverts the whole comparison


def test_missing_and_empty_cells_are_empty_strings():
    assert matches('language = ""', language="")
    assert matches('language != "English"', language="")
    assert parse_filter('language != "English"').matches({"title": "no language column"}) is True
    assert parse_filter("year >= 0").matches({"year": None}) is False  # csv.DictReader pads short rows with None


def test_columns():
    condition = parse_filter('year >= 1980 and (language != "English" or not `imdb_rating` < 5) and year < 2000')
    assert condition.columns == frozenset({"year", "language", "imdb_rating"})
    assert condition.text == 'year >= 1980 and (language != "English" or not `imdb_rating` < 5) and year < 2000'


def test_known_columns_pass_the_check():
    parse_filter("year >= 1980 and genres = Comedy").check_columns(["genres", "title", "year"], "data.train_where")


def test_an_unknown_column_is_named_with_a_suggestion_and_the_list():
    condition = parse_filter("yeer >= 1980")
    with pytest.raises(FilterError) as caught:
        condition.check_columns(["year", "title", "language", "genres"], "data.train_where (recipes/x.yaml)")
    assert str(caught.value) == (
        "unknown column 'yeer' at data.train_where (recipes/x.yaml) in filter 'yeer >= 1980'."
        " Did you mean 'year'? Available: genres, language, title, year"
    )


def test_several_unknown_columns_and_no_close_match():
    condition = parse_filter("langage = x or zzz = 1")
    with pytest.raises(FilterError) as caught:
        condition.check_columns(["language", "year"], "data.test_where")
    message = str(caught.value)
    assert "unknown columns 'langage', 'zzz' at data.test_where" in message
    assert "Did you mean 'language'?" in message
    assert message.endswith("Available: language, year")
    with pytest.raises(FilterError, match=r"'zzz' at w in filter 'zzz = 1'\. Available: year$"):
        parse_filter("zzz = 1").check_columns(["year"], "w")


def test_syntax_error_names_where_position_and_what_was_expected():
    with pytest.raises(FilterError) as caught:
        parse_filter("year >= ", "data.train_where")
    assert (
        str(caught.value) == "bad filter at data.train_where: expected a value after '>=' at position 8 in 'year >= '"
    )
    assert isinstance(caught.value, MmgenreError)  # the CLI prints it as `Error: ...` without a traceback


@pytest.mark.parametrize(
    ("text", "expected", "position"),
    [
        ("year", "expected an operator (=, !=, <, <=, >, >=, ~ contains, ^= starts with) after 'year'", 4),
        (
            "year is 1980",
            "expected an operator (=, !=, <, <=, >, >=, ~ contains, ^= starts with) after 'year', found 'is'",
            5,
        ),
        ("1980 < year", "expected a column name, found '1980'", 0),
        ("year = 1980 and", "expected a column name", 15),
        ("year = 1980 year = 1", "expected 'and', 'or' or the end, found 'year'", 12),
        ("(year = 1980", "expected ')' (the '(' at position 0 is never closed)", 12),
        ("year = 1980)", "expected the end, found ')' with no '(' to close", 11),
        ("year = = 1", "expected a value after '=', found '='", 7),
        ("language = and", "expected a value after '=', found 'and'", 11),
        ("genres = Sci-Fi", "unexpected character '-' (quote values that are not a single word)", 12),
        ('title = "Saturn', 'expected a closing " (the " at position 8 is never closed)', 15),
        (r'title = "a\nb"', 'expected " or \\ after a backslash', 11),
        ("`` = 1", "expected a column name between the back-quotes", 0),
        ("title = `x`", "expected a value after '=' (back-quotes name columns; quote values with \" or ')", 8),
        ("year => 1980", "expected a value after '=', found '>'", 6),
        ("()", "expected a column name, found ')'", 1),
    ],
)
def test_syntax_errors(text, expected, position):
    with pytest.raises(FilterError) as caught:
        parse_filter(text, "data.test_where")
    assert str(caught.value) == f"bad filter at data.test_where: {expected} at position {position} in {text!r}"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_expression_is_refused(text):
    with pytest.raises(FilterError, match=r"^bad filter at data.train_where: the expression is empty"):
        parse_filter(text, "data.train_where")


def test_without_where_the_message_still_reads():
    with pytest.raises(FilterError, match=r"^bad filter: expected a value after '<' at position 6 in 'year <'$"):
        parse_filter("year <")


def test_too_long_input_is_refused():
    at_limit = " or ".join(["year = 1980"] * 133).ljust(2000)
    assert len(at_limit) == 2000
    assert parse_filter(at_limit).matches(SATURN) is True
    with pytest.raises(FilterError, match=r"it is 2,001 characters long; the limit is 2,000$"):
        parse_filter(at_limit + " ")


def test_too_deep_nesting_is_refused_not_a_recursion_error():
    assert parse_filter("(" * 50 + "year = 1980" + ")" * 50).matches(SATURN) is True
    with pytest.raises(FilterError, match=r"expected at most 50 nested parentheses at position 50 in"):
        parse_filter("(" * 51 + "year = 1980" + ")" * 51)
    with pytest.raises(FilterError, match="expected at most 50 nested parentheses"):
        parse_filter("(" * 1999 + "a")  # a RecursionError would escape as a different type
    many_nots = "not " * 496 + "year = 1980"
    assert len(many_nots) <= 2000
    assert parse_filter(many_nots).matches(SATURN) is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("__import__('os').system('x')", "unexpected character '.'"),
        (
            "__import__('os')",
            "expected an operator (=, !=, <, <=, >, >=, ~ contains, ^= starts with) after '__import__', found '('",
        ),
        (
            "open('/etc/passwd')",
            "expected an operator (=, !=, <, <=, >, >=, ~ contains, ^= starts with) after 'open', found '('",
        ),
        ("year >= 1980; import os", "unexpected character ';'"),
        ("[year]", "unexpected character '['"),
        ("year == 1980 if True else False", "expected 'and', 'or' or the end, found 'if'"),
    ],
)
def test_python_is_not_evaluated(text, expected):
    with pytest.raises(FilterError, match="^bad filter") as caught:
        parse_filter(text)
    assert expected in str(caught.value)


def test_eval_exec_and_literal_eval_are_never_called(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the filter used eval/exec")

    for module, name in ((builtins, "eval"), (builtins, "exec"), (ast, "literal_eval"), (builtins, "compile")):
        monkeypatch.setattr(module, name, forbidden)
    condition = parse_filter("year >= 1980 and not (title = __import__ or `x` != 'os.system(\"x\")')")
    assert condition.matches({**SATURN, "x": 'os.system("x")'}) is True
    assert condition.matches({**SATURN, "title": "__IMPORT__", "x": ""}) is False


def read_labels() -> list[dict[str, str]]:
    with open(POSTERS / "labels.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_year_range_on_the_real_labels_matches_a_plain_loop():
    rows = read_labels()
    condition = parse_filter("year >= 1980 and year < 2000", "data.train_where")
    condition.check_columns(rows[0].keys(), "data.train_where")
    expected = sum(1 for row in rows if 1980 <= int(row["year"]) < 2000)
    assert 0 < expected < len(rows)
    assert sum(condition.matches(row) for row in rows) == expected


def test_language_on_the_real_labels_matches_a_plain_loop():
    rows = read_labels()
    condition = parse_filter('language != "English"', "data.test_where")
    condition.check_columns(rows[0].keys(), "data.test_where")
    expected = sum(1 for row in rows if row["language"].strip().lower() != "english")
    assert 0 < expected < len(rows)
    assert sum(condition.matches(row) for row in rows) == expected
    assert sum(parse_filter("language = english").matches(row) for row in rows) == len(rows) - expected


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        ("language ^= English", {"language": "English, French"}, True),
        ("language ^= English", {"language": "French, English"}, False),
        ("language ~ english", {"language": "French, English"}, True),
        ("genres ~ Comedy", {"genres": "Drama|Comedy"}, True),
        ("genres ~ Comedy", {"genres": "Drama"}, False),
        ("year ~ 19", {"year": "1987"}, True),  # text operators compare text, even for numbers
        ("year ^= 20", {"year": "1987"}, False),
        ("not language ^= English", {"language": ""}, True),
    ],
)
def test_contains_and_starts_with(text, row, expected):
    assert parse_filter(text).matches(row) is expected
