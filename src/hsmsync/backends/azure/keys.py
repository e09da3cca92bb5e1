"""A Managed HSM's keys with their attributes, for `hsmsync keys` and lint's key-expiry rules:
`KeyClient.list_properties_of_keys` (one paged listing: enabled, expiry, dates, exportable), and
for the key review `get_key` per key for its type, which the listing does not carry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from azure.core.exceptions import HttpResponseError

from hsmsync.backends.azure.clients import ClientFactory
from hsmsync.backends.azure.errors import Attempt, sdk_errors
from hsmsync.backends.azure.ids import enum_text
from hsmsync.core.state import KeyProperties

if TYPE_CHECKING:
    from azure.keyvault.keys import KeyProperties as SdkKeyProperties

T = TypeVar("T")
MapFn = Callable[[Callable[[str], list[T]], Sequence[str]], list[T]]


def _properties(item: SdkKeyProperties, kty: str | None) -> KeyProperties:
    return KeyProperties(
        name=item.name or "",
        kty=kty,
        enabled=item.enabled is not False,
        expires_on=item.expires_on,
        not_before=item.not_before,
        created_on=item.created_on,
        updated_on=item.updated_on,
        exportable=item.exportable,
    )


def read_key_details(
    clients: ClientFactory, hsm: str, url: str, map_keys: MapFn[KeyProperties], *, types: bool
) -> tuple[KeyProperties, ...] | None:
    """Every key of one HSM, by name (None when the identity may not list them); with `types`,
    each key's type too (`map_keys` runs those reads a few at once)."""
    client = clients.keys(url)
    with sdk_errors(Attempt("list keys with their attributes", "data", hsm, "/keys", url=url)):
        try:
            listed = [p for p in client.list_properties_of_keys() if p.name]
        except HttpResponseError as exc:
            if exc.status_code != 403:
                raise
            return None  # lint and the key review say the keys could not be read
    by_name = {p.name: p for p in listed if p.name}
    if not types:
        return tuple(_properties(by_name[n], None) for n in sorted(by_name, key=str.lower))

    def typed(name: str) -> list[KeyProperties]:
        with sdk_errors(Attempt("read key type", "data", hsm, f"/keys/{name}", url=url)):
            try:
                key = client.get_key(name)
            except HttpResponseError as exc:
                if exc.status_code != 403:
                    raise
                return [_properties(by_name[name], None)]  # listed but not readable: type unknown
        kty = enum_text(key.key_type) if key.key_type is not None else None
        return [_properties(by_name[name], kty)]

    found = map_keys(typed, sorted(by_name, key=str.lower))
    return tuple(found)
