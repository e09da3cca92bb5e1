"""GUIDs: validation, normalisation and the deterministic names hsmsync gives what it creates."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from pydantic import Field, StringConstraints

GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# The one GUID type of the manifest and state models: validated, and lower-cased so ids compare.
Guid = Annotated[
    str,
    # Never trimmed: "<id>\u00a0" is not the id it looks like, so it is an error, not a silent edit.
    StringConstraints(pattern=GUID_PATTERN, to_lower=True),
    Field(description="A GUID, e.g. 00000000-0000-0000-0000-000000000000"),
]
_GUID_RE = re.compile(GUID_PATTERN)
NIL_GUID = "00000000-0000-0000-0000-000000000000"  # a valid GUID that names nothing

# Fixed namespace for uuid5 names: changing it would rename everything hsmsync ever created.
HSMSYNC_NAMESPACE = uuid.UUID("5b0f4c0e-8d2e-4e77-9a53-8f1f3c6a9e10")


def is_guid(value: str) -> bool:
    return bool(_GUID_RE.match(value))


def deterministic_name(*parts: str) -> str:
    """A GUID derived from a natural key, so reruns and concurrent runs pick the same name."""
    return str(uuid.uuid5(HSMSYNC_NAMESPACE, "\x1f".join(p.lower() for p in parts)))


def guid_of(resource_id: str) -> str:
    """The trailing GUID of a role-definition id (`.../roleDefinitions/<guid>`), lower-cased."""
    return resource_id.rstrip("/").rsplit("/", 1)[-1].lower()
