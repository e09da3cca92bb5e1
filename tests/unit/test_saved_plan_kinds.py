"""The saved-plan file accepts every kind of change the planner makes: a kind added to the core
but not to the file's schema would make every saved plan holding it unreadable by `show` and
`apply PLAN`."""

from __future__ import annotations

from typing import get_args

from hsmsync.core.plan import Kind
from hsmsync.saved_plan_file import SavedChange


def test_the_saved_plan_file_accepts_every_kind_of_change() -> None:
    (literal,) = [f.annotation for n, f in SavedChange.model_fields.items() if n == "kind"]
    assert set(get_args(literal)) == {k.value for k in Kind}
