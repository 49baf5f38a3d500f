"""The unit-grid code scheme: each level a 3-digit extension of its parent."""

import pytest

from geo import codes
from geo.i18n import using


@pytest.fixture(autouse=True)
def english():
    """The core's messages as their English ids: outside a request the language is Chinese
    (tests/test_i18n_*.py test the choosing and the translations)."""
    with using("en"):
        yield


def test_levels_are_prefixes():
    grid = "220204001002003"
    assert codes.ancestors(grid) == ("220204001002", "220204001", "220204")
    assert codes.parent(grid) == "220204001002"
    assert codes.child("220204001002", 3) == grid
    assert codes.level_of(grid) == "grid"


@pytest.mark.parametrize("code, level", [
    ("22020400100200A", "grid"), ("2202040010020031", "grid"), ("220204001000", "community"),
    ("22020", "district"),
])
def test_malformed_codes_are_rejected(code, level):
    with pytest.raises(codes.CodeError):
        codes.check(code, level)


def test_sequence_bounds():
    with pytest.raises(codes.CodeError, match="1..999"):
        codes.child("220204", 1000)
    with pytest.raises(codes.CodeError, match="no parent"):
        codes.parent("220204")
