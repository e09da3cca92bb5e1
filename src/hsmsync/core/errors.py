"""hsmsync's own errors. Each carries a message meant for the user; the CLI maps them to exit codes."""

from __future__ import annotations

from dataclasses import dataclass

from hsmsync.core.target import Target


class HsmsyncError(Exception):
    """An expected failure with a user-facing message (exit code 1)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input, located by its path in the document."""

    loc: tuple[str | int, ...]
    message: str
    # About the key at `loc` itself (a name), not its value: reported at the key's line.
    about_key: bool = False

    @property
    def field(self) -> str:
        out = ""
        for part in self.loc:
            if isinstance(part, int):
                out += f"[{part}]"
            else:
                out += f".{part}" if out else str(part)
        return out or "(document)"


class ManifestError(HsmsyncError):
    """The manifest is invalid; `problems` says where and why."""

    def __init__(self, problems: list[Problem], rendered: str | None = None) -> None:
        self.problems = problems
        super().__init__(rendered or "\n".join(f"{p.field}: {p.message}" for p in problems))


class StateError(HsmsyncError):
    """A state file or a backend's view of reality is unusable."""


@dataclass(frozen=True, slots=True)
class Denied:
    """What a permission-denied call needed: the action, on which HSM (or ARM), at which scope."""

    action: str
    target: Target
    scope: str


class BackendError(HsmsyncError):
    """A backend call failed; the message says what was attempted and what the service said."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        denied: Denied | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.status = status
        self.denied = denied
