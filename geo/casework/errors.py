"""Errors of the casework layer; the API turns each into one HTTP status."""

from __future__ import annotations


class CaseError(Exception):
    """Base: a message a person can act on."""


class InvalidInput(CaseError):
    """The request is well-formed but its content cannot be used (422)."""


class NotFound(CaseError):
    """No such thing, or the caller may not know it exists (404)."""


class Forbidden(CaseError):
    """The caller is known but not allowed to do this (403)."""


class StateConflict(CaseError):
    """The thing is not in a state that allows this, or changed meanwhile (409)."""

    def __init__(self, message: str, allowed: list[str] | None = None, state: str | None = None):
        super().__init__(message)
        self.allowed = allowed or []
        self.state = state


class PreconditionRequired(CaseError):
    """A change to something that others may be editing came without the version it was
    based on (428: send If-Match)."""


class PreconditionFailed(CaseError):
    """The version a change was based on is no longer the current one (412)."""
