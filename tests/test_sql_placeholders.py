"""`:name` parameters on both backends: psycopg's form is written without touching what only
looks like a parameter (text in literals, identifiers, comments and dollar quotes, casts)."""

import pytest

from geo.store.sql import to_pyformat


@pytest.mark.parametrize(("sql", "want"), [
    ("SELECT :a, :b_2", "SELECT %(a)s, %(b_2)s"),
    ("SELECT ':x' AS t, :v", "SELECT ':x' AS t, %(v)s"),
    ("SELECT '50%' || :pct", "SELECT '50%%' || %(pct)s"),
    ("SELECT 'it''s :x', :y", "SELECT 'it''s :x', %(y)s"),
    ("SELECT E'a\\' :x', :y", "SELECT E'a\\' :x', %(y)s"),
    ("SELECT e'\\\\', :y", "SELECT e'\\\\', %(y)s"),
    ("SELECT E'\\'' || :v", "SELECT E'\\'' || %(v)s"),
    ('SELECT 1 AS ":odd name", :y', 'SELECT 1 AS ":odd name", %(y)s'),
    ('SELECT "a""b:c" FROM t WHERE x = :x', 'SELECT "a""b:c" FROM t WHERE x = %(x)s'),
    ("SELECT :a -- :b 100%\n, :c", "SELECT %(a)s -- :b 100%%\n, %(c)s"),
    ("SELECT 1 -- :x", "SELECT 1 -- :x"),
    ("SELECT /* :b % */ :a", "SELECT /* :b %% */ %(a)s"),
    ("SELECT /* a /* :nested */ :still */ :a", "SELECT /* a /* :nested */ :still */ %(a)s"),
    ("SELECT :v::text, x::float8[], :w", "SELECT %(v)s::text, x::float8[], %(w)s"),
    ("SELECT $$ :x % $$, :y", "SELECT $$ :x %% $$, %(y)s"),
    ("SELECT $fn$ it's :x $q$ $fn$, :y", "SELECT $fn$ it's :x $q$ $fn$, %(y)s"),
    ("SELECT 'a':x", "SELECT 'a'%(x)s"),
    ("SELECT 'a' || :x", "SELECT 'a' || %(x)s"),
    ("SELECT x % 2, :y", "SELECT x %% 2, %(y)s"),
    ("SELECT arr[a:b]", "SELECT arr[a:b]"),
    ("SELECT $1, a$b$, :y", "SELECT $1, a$b$, %(y)s"),
    ("SELECT 'never closed :x", "SELECT 'never closed :x"),
])
def test_the_rewriter_touches_only_parameters_and_percent_signs(sql, want):
    assert to_pyformat(sql) == want


def test_rewriting_is_cached_per_statement():
    to_pyformat.cache_clear()
    for _ in range(3):
        to_pyformat("SELECT :once")
    assert to_pyformat.cache_info().hits == 2


def test_a_literal_that_looks_like_a_parameter_reaches_the_database_unchanged(store):
    with store.snapshot() as tx:
        row = tx.one("SELECT ':name' AS t, :v AS v", {"v": 1})
        assert row == {"t": ":name", "v": 1}
        row = tx.one("SELECT 'it''s 100% :v' AS t, /* :v */ :v AS v -- :v\n", {"v": 2})
        assert row == {"t": "it's 100% :v", "v": 2}


def test_postgresql_keeps_casts_escapes_and_dollar_quotes(pg_store):
    with pg_store.snapshot() as tx:
        row = tx.one("SELECT E'a\\':x' AS e, $q$ :v % $q$ AS d, :v::text AS c, "
                     '1 AS ":v"', {"v": 3})
        assert row == {"e": "a':x", "d": " :v % ", "c": "3", ":v": 1}
