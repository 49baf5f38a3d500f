"""Messages in the reader's language: Chinese (zh_CN) first, English available.

Every user-facing string is an English message id marked `_("...")` (or `N_` where it is only
named, to be translated later); translators edit the gettext catalogues in
`locales/<locale>/LC_MESSAGES/*.po`, never code. The language of the work in progress is a
context variable, set per HTTP request from `?lang=`, the language cookie or Accept-Language
(`negotiate`), so code far from the request (a rank's reasons, a refusal) speaks the reader's
language without being handed it. Placeholders are named (`{team}`), so a translation may
put them in its own order: `_("sent to {team}").format(team=name)`.
"""

from __future__ import annotations

from geo.i18n.catalogues import messages, missing, translations
from geo.i18n.formats import TIMEZONE, format_date, format_datetime, format_time, local
from geo.i18n.locale import (
    DEFAULT_LOCALE,
    LOCALES,
    N_,
    _,
    current,
    html_lang,
    label,
    negotiate,
    ngettext,
    using,
)

__all__ = ["DEFAULT_LOCALE", "LOCALES", "N_", "TIMEZONE", "_", "current", "format_date",
           "format_datetime", "format_time", "html_lang", "label", "local", "messages", "missing",
           "negotiate", "ngettext", "translations", "using"]
