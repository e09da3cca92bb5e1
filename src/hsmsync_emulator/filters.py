"""The `$filter` grammar ARM and the Managed HSM data plane share for RBAC listings: terms joined by
`and`; for assignments `atScope()` and a principal test, for definitions `roleName eq '<name>'`.
The two services differ only in what else they accept and in how they refuse the rest, which the
callers pass in."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from hsmsync_emulator.errors import ApiError

_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_AT_SCOPE = re.compile(r"^atScope\(\)$", re.IGNORECASE)
_ROLE_NAME = re.compile(r"^roleName\s+eq\s+'(.*)'$", re.IGNORECASE)
PRINCIPAL_EQ = re.compile(r"^principalId\s+eq\s+'([^']*)'$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class AssignmentFilter:
    at_scope: bool = False
    principal_id: str | None = None


def filter_terms(text: str | None) -> list[str]:
    """The `and`-joined terms of a filter; none for an absent or blank one."""
    return _AND.split(text.strip()) if text and text.strip() else []


def role_name_term(term: str) -> str | None:
    """The lower-cased role name a `roleName eq '<name>'` term asks for ('' quotes one ')."""
    m = _ROLE_NAME.match(term)
    return m.group(1).replace("''", "'").lower() if m else None


def parse_assignment_filter(
    text: str | None, principal: re.Pattern[str], unsupported: Callable[[str], ApiError]
) -> AssignmentFilter:
    """`principal`: the service's principal test (its first non-empty group is the id);
    `unsupported(text)`: the service's error for any other term."""
    at_scope, principal_id = False, None
    for term in filter_terms(text):
        if _AT_SCOPE.match(term):
            at_scope = True
        elif m := principal.match(term):
            principal_id = next((g for g in m.groups() if g), "").lower()
        else:
            raise unsupported(text or "")
    return AssignmentFilter(at_scope, principal_id)
