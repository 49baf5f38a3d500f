"""Errors of the casework layer; the API turns each into one HTTP status.

Each carries a stable machine-readable `code` beside its message (which is a sentence in the
reader's language): a client branches on the code, a person reads the message. The class
gives a general code; a raise site names a more specific one where a client would act on it
(`InvalidInput(_("..."), code="outside_city")`)."""

from __future__ import annotations


class CaseError(Exception):
    """Base: a message a person can act on."""

    code = "invalid_input"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidInput(CaseError):
    """The request is well-formed but its content cannot be used (422)."""

    code = "invalid_input"


class NotFound(CaseError):
    """No such thing, or the caller may not know it exists (404)."""

    code = "not_found"


class Forbidden(CaseError):
    """The caller is known but not allowed to do this (403)."""

    code = "forbidden"


class StateConflict(CaseError):
    """The thing is not in a state that allows this, or changed meanwhile (409)."""

    code = "state_conflict"

    def __init__(self, message: str, allowed: list[str] | None = None, state: str | None = None,
                 *, code: str | None = None):
        super().__init__(message, code=code)
        self.allowed = allowed or []
        self.state = state


class PreconditionRequired(CaseError):
    """A change to something that others may be editing came without the version it was
    based on (428: send If-Match)."""

    code = "precondition_required"


class PreconditionFailed(CaseError):
    """The version a change was based on is no longer the current one (412)."""

    code = "precondition_failed"
