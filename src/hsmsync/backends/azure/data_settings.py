"""A Managed HSM's data-plane settings through `KeyVaultSettingsClient` (GET {hsm}/settings,
PATCH {hsm}/settings/{name}): read when the manifest manages them, updated one by one."""

from __future__ import annotations

from hsmsync.backends.azure.clients import ClientFactory
from hsmsync.backends.azure.errors import Attempt, call_sdk
from hsmsync.backends.base import Outcome
from hsmsync.core.errors import BackendError
from hsmsync.core.state import DataSetting


def _type_text(setting_type: object) -> str:
    text = str(getattr(setting_type, "value", setting_type) or "boolean")
    return text.lower()


def read_data_settings(clients: ClientFactory, hsm: str, url: str) -> tuple[DataSetting, ...]:
    client = clients.hsm_settings(url)
    listed = call_sdk(Attempt("list data-plane settings", "data", hsm, "/", url=url), client.list_settings)
    out = []
    for s in call_sdk(Attempt("list data-plane settings", "data", hsm, "/", url=url), lambda: list(listed)):
        kind = _type_text(s.setting_type)
        if kind != "boolean":  # the only type the service defines (settings.json, 2025-06-01)
            raise BackendError(
                f"{hsm}: data-plane setting {s.name} has type '{kind}', which hsmsync does not know"
            )
        out.append(DataSetting(name=s.name, value=str(s.value).lower(), type="boolean"))
    return tuple(out)


def update_data_setting(clients: ClientFactory, hsm: str, url: str, wanted: DataSetting) -> Outcome:
    """PATCH the setting unless it already has the value (someone else set it since the plan)."""
    from azure.keyvault.administration import KeyVaultSetting

    client = clients.hsm_settings(url)
    at = Attempt(f"update data-plane setting {wanted.name}", "data", hsm, "/", url=url)
    current = call_sdk(at, lambda: client.get_setting(wanted.name))
    if str(current.value).lower() == wanted.value:
        return Outcome.ALREADY_DONE
    setting = KeyVaultSetting(name=wanted.name, value=wanted.value, setting_type=wanted.type)
    done = call_sdk(at, lambda: client.update_setting(setting))
    if str(done.value).lower() != wanted.value:
        raise BackendError(
            f"{hsm}: data-plane setting {wanted.name} is {done.value} after the update, not {wanted.value}"
        )
    return Outcome.DONE
