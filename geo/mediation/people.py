"""Checks of the people a dispute names (parties, squad members): names, phones and the
national id number (GB 11643: 17 digits and a check character)."""

from __future__ import annotations

import re

from geo.casework.errors import InvalidInput
from geo.i18n import _

MAX_NAME = 50
_PHONE = re.compile(r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$")  # a mobile or a landline
_ID_NUMBER = re.compile(r"^[0-9]{17}[0-9X]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_character(first17: str) -> str:
    """The check character of an id number's first 17 digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def check_name(name: str, field: str = "name") -> str:
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidInput(_("{field} must be 1 to {n} characters long").format(
            field=field, n=MAX_NAME), code="bad_name")
    return name


def check_phone(phone: str) -> str:
    """A mobile (11 digits from 13) or a landline with its area code (0432-62345678);
    empty when unknown."""
    phone = phone.strip()
    if phone and not _PHONE.match(phone):
        raise InvalidInput(_("phone {phone} is neither a mobile number (11 digits from 13) nor a "
                             "landline with its area code (such as 0432-62345678)").format(
            phone=phone), code="bad_phone")
    return phone


def check_id_number(number: str | None) -> str | None:
    """An 18-character national id number whose check character is right, or None."""
    if number is None or not number.strip():
        return None
    number = number.strip().upper()
    if not _ID_NUMBER.match(number) or id_check_character(number[:17]) != number[17]:
        raise InvalidInput(_("id_number is not a valid 18-character national id number (its "
                             "check character does not match)"), code="bad_id_number")
    return number
