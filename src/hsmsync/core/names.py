"""Manifest names: the one rule for the keys of principals, HSMs, roles, vaults and teams.

A name is what the plan shows and what references resolve to, so nothing may normalise one
name into another: a name that is not already in its one canonical form is an error (with the
fix), and two names that differ only by case, surrounding whitespace or invisible characters are
duplicates. References to names match exactly.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from hsmsync.core.ids import is_guid

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters"
_NAME_RE = re.compile(NAME_PATTERN)
_INVISIBLE = ("Cc", "Cf", "Co", "Cs", "Cn")

# The mappings whose keys are names ('*' stands for any key at that level).
NAME_KEYED: tuple[tuple[str, ...], ...] = (
    ("principals",),
    ("hsms",),
    ("roles",),
    ("arm_roles",),
    ("vaults",),
    ("teams",),
    ("vaults", "*", "access_policies"),
)


def _visible(text: str) -> str:
    """NFKC form without control and format characters (zero-width space, BOM, ...)."""
    return "".join(
        c for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c) not in _INVISIBLE
    )


def fold(name: str) -> str:
    """What two names are compared by: case, surrounding whitespace and invisible characters aside."""
    return _visible(name).strip().casefold()


def fold_text(text: str) -> str:
    """Display names (role names) compared: as `fold`, and runs of whitespace count as one space."""
    return " ".join(_visible(text).casefold().split())


def _char(c: str) -> str:
    return f"U+{ord(c):04X} ({unicodedata.name(c, 'unnamed')})"


def name_problem(name: str) -> str | None:
    """Why `name` is not a valid name, with the fix where one is evident; None when valid."""
    if _NAME_RE.match(name):
        return None
    if not name.strip():
        return "a name may not be empty or blank"
    candidate = _visible(name).strip()
    hint = f"; did you mean '{candidate}'?" if _NAME_RE.match(candidate) else ""
    if name != name.strip():
        return f"name '{name}' has leading or trailing whitespace{hint}"
    odd = next((c for c in name if unicodedata.category(c) in _INVISIBLE or c.isspace()), None)
    if odd is not None:
        return f"name {name!r} contains {_char(odd)}{hint}"
    return f"'{name}' is not a valid name: use {NAME_RULE}{hint}"


def text_problem(text: str) -> str | None:
    """Display names: not blank, no surrounding whitespace, no control or invisible characters."""
    if not text.strip():
        return "may not be empty or blank"
    if text != text.strip():
        return f"'{text}' has leading or trailing whitespace; did you mean '{text.strip()}'?"
    odd = next((c for c in text if unicodedata.category(c) in _INVISIBLE), None)
    if odd is not None:
        return f"{text!r} contains {_char(odd)}"
    return None


def check_name(name: str) -> str:
    problem = name_problem(name)
    if problem:
        raise ValueError(problem)
    return name


def check_text(text: str) -> str:
    problem = text_problem(text)
    if problem:
        raise ValueError(problem)
    return text


def collisions(names: Iterable[str]) -> list[tuple[str, str]]:
    """(name, earlier name) for each name that folds to the same as an earlier one."""
    seen: dict[str, str] = {}
    out: list[tuple[str, str]] = []
    for name in names:
        key = fold(name)
        if key in seen:
            out.append((name, seen[key]))
        else:
            seen[key] = name
    return out


def close_names(reference: str, declared: Iterable[str]) -> list[str]:
    """Declared names that `reference` equals once folded (for 'did you mean')."""
    return [d for d in declared if fold(d) == fold(reference) and d != reference]


def key_spelt_as_another_id(key: str, own_id: str) -> str | None:
    """A principal's key spelt as an object id that is not its own: outputs show a principal the
    manifest does not name by its object id, so the key would read as that other principal."""
    if not is_guid(key) or key.lower() == own_id.lower():
        return None
    return (
        f"principal key '{key}' is an object id but not this principal's ({own_id}): "
        "it would read as that other principal; name it (e.g. its display name)"
    )
