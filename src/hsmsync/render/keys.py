"""`hsmsync keys`: the key review as text, markdown or JSON. Renderers compute nothing: every
value comes from `KeyInventory`; untrusted names are made visible (text) or escaped (markdown)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hsmsync.core.key_review import Expiry, KeyEntry, KeyInventory, KeyUser
from hsmsync.render.contract import document
from hsmsync.render.escape import md
from hsmsync.render.escape import visible as v

_MISSING = "-"


def _time(when: datetime | None) -> str:
    return when.isoformat() if when is not None else _MISSING


def _day(when: datetime | None) -> str:
    return when.date().isoformat() if when is not None else _MISSING


def _expiry(k: KeyEntry) -> str:
    """`2027-01-01 (in 31 days)`, `2026-01-01 (expired 3 days ago)`, `none`, `-` (unknown)."""
    if k.expiry is Expiry.UNKNOWN:
        return _MISSING
    if k.expiry is Expiry.NONE or k.properties is None or k.days_left is None:
        return "none"
    day = _day(k.properties.expires_on)
    if k.expiry is Expiry.EXPIRED:
        return f"{day} (expired)"
    return f"{day} (in {_days(k.days_left)})"


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


def _flag(k: KeyEntry) -> str:
    return {Expiry.NONE: "  ! no expiry", Expiry.EXPIRED: "  ! expired", Expiry.EXPIRING: "  ! expiring"}.get(
        k.expiry, ""
    )


def _enabled(k: KeyEntry) -> str:
    if k.properties is None:
        return _MISSING
    return "enabled" if k.properties.enabled else "disabled"


def _user_text(u: KeyUser) -> str:
    via = "; ".join(v(p) for p in u.paths)
    return f"{v(u.principal)} ({v(u.principal_type)}): {', '.join(u.verbs)} via {via}"


_ONCE_ACTIVATED = "can use it once activated (PIM-eligible membership)"
_CAN_OBTAIN = "can obtain its use (can assign itself a role, or write the vault's access policies)"
_CONDITIONAL = "may use it under a condition hsmsync could not evaluate"


def render_text(inv: KeyInventory) -> str:
    out = [f"Keys as of {inv.now.isoformat()} (expiring: within {inv.warning_days} days)"]
    owner: tuple[str, str] | None = None
    for k in inv.entries:
        if (k.owner_kind, k.owner) != owner:
            owner = (k.owner_kind, k.owner)
            out.append(f"\n{'HSM' if k.owner_kind == 'hsm' else 'vault'} {v(k.owner)}:")
        kty = v(k.properties.kty) if k.properties and k.properties.kty else _MISSING
        out.append(
            f"  {v(k.name)}  type {kty}  {_enabled(k)}  expires {_expiry(k)}  "
            f"last rotated {_day(k.last_rotated)}{_flag(k)}"
        )
        if k.users is None:
            out.append("    who can use it: not evaluated")
        elif not k.users:
            out.append("    who can use it: nobody")
        else:
            out.append("    who can use it:")
            out += [f"      {_user_text(u)}" for u in k.users]
        listed = (
            (_ONCE_ACTIVATED, k.once_activated),
            (_CAN_OBTAIN, k.can_obtain),
            (_CONDITIONAL, k.conditional),
        )
        for heading, users in listed:
            if users:
                out.append(f"    {heading}:")
                out += [f"      {_user_text(u)}" for u in users]
    if not inv.entries:
        out.append("No keys.")
    out += [f"Note: {v(n)}" for n in inv.notes]
    return "\n".join(out) + "\n"


def _md_users(users: tuple[KeyUser, ...] | None, empty: str = "nobody") -> str:
    if users is None:
        return "not evaluated"
    if not users:
        return empty
    return "<br>".join(
        f"{md(u.principal)} ({', '.join(u.verbs)}) via {'; '.join(md(p) for p in u.paths)}" for u in users
    )


def render_markdown(inv: KeyInventory) -> str:
    out = [
        f"## Keys as of {inv.now.isoformat()}",
        "",
        f"Expiring: within {inv.warning_days} days.",
        "",
        "| where | key | type | enabled | expires | last rotated | who can use it | once activated (PIM) "
        "| can obtain |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for k in inv.entries:
        kty = md(k.properties.kty) if k.properties and k.properties.kty else _MISSING
        where = f"{'HSM' if k.owner_kind == 'hsm' else 'vault'} {md(k.owner)}"
        expires = _expiry(k) + (f" **{k.expiry.value}**" if k.expiry in _FLAGGED else "")
        cells = [
            where,
            md(k.name),
            kty,
            _enabled(k),
            expires,
            _day(k.last_rotated),
            _md_users(k.users) + (f"<br>{_CONDITIONAL}: {_md_users(k.conditional)}" if k.conditional else ""),
            _md_users(k.once_activated, _MISSING),
            _md_users(k.can_obtain, _MISSING),
        ]
        out.append(f"| {' | '.join(cells)} |")
    out += ["", *(f"- {md(n)}" for n in inv.notes)]
    return "\n".join(out).rstrip("\n") + "\n"


_FLAGGED = (Expiry.NONE, Expiry.EXPIRED, Expiry.EXPIRING)


def _entry(k: KeyEntry) -> dict[str, Any]:
    p = k.properties
    return {
        "owner_kind": k.owner_kind,
        "owner": k.owner,
        "name": k.name,
        "type": p.kty if p else None,
        "enabled": p.enabled if p else None,
        "expires_on": _time(p.expires_on) if p and p.expires_on else None,
        "not_before": _time(p.not_before) if p and p.not_before else None,
        "created_on": _time(p.created_on) if p and p.created_on else None,
        "updated_on": _time(p.updated_on) if p and p.updated_on else None,
        "last_rotated": _time(k.last_rotated) if k.last_rotated else None,
        "expiry": k.expiry.value,
        "days_left": k.days_left,
        "users": _json_users(k.users),
        "once_activated": _json_users(k.once_activated),
        "can_obtain": _json_users(k.can_obtain),
        "conditional_not_evaluated": _json_users(k.conditional),
    }


def _json_users(users: tuple[KeyUser, ...] | None) -> list[dict[str, Any]] | None:
    if users is None:
        return None
    return [
        {
            "principal": u.principal,
            "principal_type": u.principal_type,
            "can": list(u.verbs),
            "via": list(u.paths),
        }
        for u in users
    ]


def render_json(inv: KeyInventory) -> str:
    return document(
        "keys",
        {
            "as_of": inv.now.isoformat(),
            "warning_days": inv.warning_days,
            "keys": [_entry(k) for k in inv.entries],
            "notes": list(inv.notes),
        },
    )
