"""Azure role-assignment conditions (ABAC, version 2.0): a three-valued evaluator over the syntax tree
of condition_syntax.py (the parser), and the requests and role conditions it is asked about.

The subset Key Vault documents ("Azure role assignment condition format and syntax"; Key Vault
Data Access Administrator's condition): `ActionMatches{'...'}`, `SubOperationMatches{'...'}`,
`@Request[...]` / `@Resource[...]` / `@Principal[...]` attributes compared with `StringEquals`,
`StringNotEquals`, `StringEqualsIgnoreCase`, `StringStartsWith`, `StringLike` (and their `Not`
forms), `GuidEquals` / `GuidNotEquals`, each optionally quantified (`ForAnyOfAnyValues:` ...),
joined by AND / OR / NOT (or `&&`, `||`, `!`) and parentheses.

A condition says when its assignment grants an action: "true" lets the role's actions through,
"false" withholds them. What this module cannot parse, an operator it does not know, or an
attribute the question does not supply evaluates to UNKNOWN ("not evaluated"), never to allowed:
Kleene logic keeps an unknown part unknown unless the rest decides on its own (`x OR true` is
true, `x AND false` is false). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

from hsmsync.core.capabilities import permits
from hsmsync.core.condition_syntax import (
    Compare,
    ConditionSyntaxError,
    Join,
    Matches,
    Node,
    Not,
    parse,
)
from hsmsync.core.state import Permission


class Verdict(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    NOT_EVALUATED = "not evaluated"


# Attributes hsmsync can supply, lower-cased (`@Resource[Microsoft.KeyVault/vaults/secrets:name]`).
REQUEST_ROLE = "@request[microsoft.authorization/roleassignments:roledefinitionid]"
RESOURCE_ROLE = "@resource[microsoft.authorization/roleassignments:roledefinitionid]"
NAME_ATTRIBUTES = {
    kind: f"@resource[microsoft.keyvault/vaults/{kind}:name]" for kind in ("keys", "secrets", "certificates")
}


@dataclass(frozen=True, slots=True)
class Request:
    """One operation a condition is asked about: the action (in the service's spelling), its
    sub-operation if any, and the attributes known for it (lower-cased name -> values)."""

    action: str
    attributes: Mapping[str, tuple[str, ...]]
    sub_operation: str | None = None


def _attributes(node: Node) -> set[str]:
    if isinstance(node, Not):
        return _attributes(node.inner)
    if isinstance(node, Join):
        return set().union(*(_attributes(p) for p in node.parts))
    return {node.attribute} if isinstance(node, Compare) else set()


def about_names(text: str) -> bool:
    """Does the condition parse and test only what hsmsync can supply per object: the key's,
    secret's or certificate's name (and the roles of role assignments)?"""
    try:
        used = _attributes(parse(text))
    except ConditionSyntaxError:
        return False
    return used <= {*NAME_ATTRIBUTES.values(), REQUEST_ROLE, RESOURCE_ROLE}


# How effective access reports a grant under a condition (whocan, explain, keys).
UNDER_CONDITION = "holds, under a condition"  # a condition about names: for the names it allows
NOT_EVALUATED = "conditional (not evaluated)"  # a condition hsmsync cannot read or decide


def conditional_status(condition: str | None, status: str = "holds") -> str:
    """A grant's status once its condition is taken into account, with no object named: "holds,
    under a condition" when the condition is about names, else "conditional (not evaluated)"."""
    if condition is None:
        return status
    if status == "holds":
        return UNDER_CONDITION if about_names(condition) else NOT_EVALUATED
    return f"{status}, {'under a condition' if about_names(condition) else NOT_EVALUATED}"


# ---- evaluation (None: unknown) -------------------------------------------------------------


def _one(operator: str, left: str, right: str) -> bool:
    negated = "not" in operator
    base = operator.replace("not", "", 1)
    if base.startswith("guid"):
        result = left.strip().lower() == right.strip().lower()
    elif base.endswith("ignorecase"):
        base = base.removesuffix("ignorecase")
        result = _string(base, left.lower(), right.lower())
    else:
        result = _string(base, left, right)
    return not result if negated else result


def _string(base: str, left: str, right: str) -> bool:
    if base == "stringequals":
        return left == right
    if base == "stringstartswith":
        return left.startswith(right)
    return fnmatchcase(left, right.replace("[", "[[]"))  # stringlike: * and ? only


def _compare(node: Compare, request: Request) -> bool | None:
    left = request.attributes.get(node.attribute)
    if left is None:
        return None  # an attribute this question does not supply: not evaluated
    right = node.values
    if node.quantifier is None:
        if node.is_set or len(left) != 1:
            return None
        return _one(node.operator, left[0], right[0])
    any_left = node.quantifier.startswith("forany")
    any_right = node.quantifier.endswith("anyvalues")

    def right_holds(value: str) -> bool:
        hits = (_one(node.operator, value, r) for r in right)
        return any(hits) if any_right else all(hits)

    return any(map(right_holds, left)) if any_left else all(map(right_holds, left))


def _action_matches(pattern: str, action: str) -> bool:
    return fnmatchcase(action.lower(), pattern.lower().replace("[", "[[]"))


def _evaluate(node: Node, request: Request) -> bool | None:
    if isinstance(node, Not):
        inner = _evaluate(node.inner, request)
        return None if inner is None else not inner
    if isinstance(node, Join):
        results = [_evaluate(p, request) for p in node.parts]
        decisive = node.op == "or"  # OR: one true decides; AND: one false decides
        if decisive in results:
            return decisive
        return None if None in results else not decisive
    if isinstance(node, Matches):
        if node.what == "actionmatches":
            return _action_matches(node.pattern, request.action)
        if request.sub_operation is None:
            return False  # the request has no sub-operation, so none matches
        return node.pattern.lower() == request.sub_operation.lower()
    return _compare(node, request)


def evaluate(condition: str, request: Request) -> Verdict:
    """What `condition` says of `request`: allowed, denied, or not evaluated (unparsed, an
    operator outside the subset, or an attribute the request does not supply)."""
    try:
        node = parse(condition)
    except ConditionSyntaxError:
        return Verdict.NOT_EVALUATED
    result = _evaluate(node, request)
    if result is None:
        return Verdict.NOT_EVALUATED
    return Verdict.ALLOWED if result else Verdict.DENIED


def grant_verdict(
    permissions: Sequence[Permission], condition: str | None, request: Request, *, data: bool
) -> Verdict:
    """Does an assignment of a role with `permissions` and `condition` allow `request`? The
    role must grant the action first: a condition only ever narrows."""
    if not permits(tuple(permissions), request.action, data=data):
        return Verdict.DENIED
    if condition is None:
        return Verdict.ALLOWED
    return evaluate(condition, request)


def name_request(action: str, kind: str, name: str) -> Request:
    """A Key Vault data action on one key, secret or certificate, by its name."""
    attribute = NAME_ATTRIBUTES.get(kind)
    return Request(action, {attribute: (name,)} if attribute else {})


def assignment_request(action: str, role_ids: Sequence[str]) -> Request:
    """`roleAssignments/write` or `/delete` of assignments of these roles (GUIDs or role ids);
    one request per role is the caller's job: a set here means all of them at once."""
    guids = tuple(r.rstrip("/").rsplit("/", 1)[-1] for r in role_ids)
    return Request(action, {REQUEST_ROLE: guids, RESOURCE_ROLE: guids})


def verdict_for_each_role(condition: str, action: str, role_ids: Sequence[str]) -> Verdict:
    """What `condition` says of `action` done once per role (one request each, as ARM sees a
    PUT or DELETE of one assignment); no roles: the action with no role attributes. Allowed
    only when every request is allowed; denied when any is."""
    requests = [assignment_request(action, [r]) for r in role_ids] or [Request(action, {})]
    verdicts = {evaluate(condition, r) for r in requests}
    for worst in (Verdict.DENIED, Verdict.NOT_EVALUATED):
        if worst in verdicts:
            return worst
    return Verdict.ALLOWED


def _any_action(patterns: Sequence[str]) -> str:
    return " OR ".join(f"ActionMatches{{'{a}'}}" for a in patterns)


def role_condition(permissions: Sequence[Permission]) -> str | None:
    """The condition a role's own definition puts on what it grants, or None when no block has one.

    Azure evaluates each block on its own and a block's condition narrows only that block (Key
    Vault Data Access Administrator's one block may write assignments of the Key Vault data roles
    only). One block: its condition. Several: an action is allowed by any block that grants it
    (its actions, less its not-actions) where that block's condition holds, written in the same
    condition language so that one evaluator answers for the role and the assignment together."""
    if not any(b.condition for b in permissions):
        return None
    if len(permissions) == 1:
        return permissions[0].condition
    terms = []
    for b in permissions:
        granted = _any_action((*b.actions, *b.data_actions))
        if not granted:
            continue
        term = f"({granted})"
        if excluded := _any_action((*b.not_actions, *b.not_data_actions)):
            term += f" AND !({excluded})"
        if b.condition:
            term += f" AND ({b.condition})"
        terms.append(f"({term})")
    return " OR ".join(terms) or None


def effective_condition(condition: str | None, permissions: Sequence[Permission]) -> str | None:
    """What an assignment allows under both its own condition and its role's: both must hold."""
    own = role_condition(permissions)
    if own is None or condition is None:
        return condition if own is None else own
    return f"({condition}) AND ({own})"


__all__ = [
    "effective_condition",
    "role_condition",
    "NAME_ATTRIBUTES",
    "NOT_EVALUATED",
    "UNDER_CONDITION",
    "conditional_status",
    "about_names",
    "Request",
    "Verdict",
    "assignment_request",
    "evaluate",
    "grant_verdict",
    "name_request",
    "verdict_for_each_role",
    "verdict_for_each_role",
]
