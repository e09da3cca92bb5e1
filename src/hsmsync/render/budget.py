"""Lines under a character budget, enforced as they are appended (a PR comment has a size limit).

Nothing is ever cut: an item (a table row, a list item) is added whole or not at all, so no
escape, tag or `<details>` block can be split. Space for what must follow (a section's closing
lines, its "… and N more" line, the closing note) is reserved before each item is added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def cost(lines: Sequence[str]) -> int:
    """Characters `lines` take in the output (each ends with a newline)."""
    return sum(len(line) + 1 for line in lines)


class BudgetedLines:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.reserved = 0  # kept free for the closing note
        self.lines: list[str] = []
        self.used = 0

    def fits(self, lines: Sequence[str], *, keep: int = 0, until: int | None = None) -> bool:
        cap = self.limit if until is None else min(self.limit, until)
        return self.used + cost(lines) + keep + self.reserved <= cap

    def add(self, lines: Sequence[str]) -> None:
        """Lines that must be there (a title, the counts): callers check `fits` for the rest."""
        self.lines.extend(lines)
        self.used += cost(lines)

    def section(
        self,
        head: Sequence[str],
        items: Sequence[str],
        more: Callable[[int], list[str]],
        tail: Sequence[str] = (),
        *,
        until: int | None = None,
    ) -> int:
        """`head`, as many `items` as fit, `more(n)` when n were left out, then `tail`; a section
        whose head and tail do not fit is left out whole. Returns how many items were left out.

        `more(len(items))` is the longest "more" line (fewer left out never has more digits)."""
        if not items:
            return 0
        keep = cost(tail) + cost(more(len(items)))
        if not self.fits(head, keep=keep, until=until):
            return len(items)
        self.add(head)
        shown = 0
        for item in items:
            if not self.fits([item], keep=keep, until=until):
                break
            self.add([item])
            shown += 1
        if shown < len(items):
            self.add(more(len(items) - shown))
        self.add(tail)
        return len(items) - shown

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"
