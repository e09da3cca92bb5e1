"""What a user names on the command line, looked up in the manifest: principals given by key or
object id, and close matches for a name that is not there."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from hsmsync.core.errors import HsmsyncError
from hsmsync.core.ids import is_guid
from hsmsync.manifest import LoadedManifest


def did_you_mean(word: str, names: Iterable[str]) -> str:
    """`; did you mean 'a', 'b'?` for up to three close names, else nothing."""
    close = difflib.get_close_matches(word, sorted(names), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def principal_id_of(loaded: LoadedManifest, reference: str) -> str:
    """The object id `reference` names: a key of `principals`, or a GUID (any case)."""
    declared = loaded.manifest.principals
    if reference in declared and declared[reference].id:
        return str(declared[reference].id)
    if is_guid(reference):
        return reference.lower()
    hint = did_you_mean(reference, declared)
    raise HsmsyncError(f"unknown principal '{reference}' (give a key of `principals` or an object id){hint}")
