"""Edits of one indexed collection, shared by the kinds: idempotent like the services."""

from __future__ import annotations

from typing import TypeVar

from hsmsync.core.results import Outcome

T = TypeVar("T")


def replace_last(items: dict[str, T], name: str, item: T) -> Outcome:
    """Create or update `name`: an updated item moves to the end, as a service listing shows it."""
    if items.get(name) == item:
        return Outcome.ALREADY_DONE
    items.pop(name, None)
    items[name] = item
    return Outcome.DONE


def remove(items: dict[str, T], name: str) -> Outcome:
    return Outcome.DONE if items.pop(name, None) is not None else Outcome.ALREADY_DONE


def no_payload(kind: str, data: object) -> None:
    if data is not None:
        raise ValueError(f"a {kind} change carries no payload")
