"""One Key Vault's data plane: keys (get, list, create, sign, wrap, unwrap), secrets (get, list,
set) and certificates (get, list, import), authorized by the vault's *current* permission model.

Every request reads the vault from the store: with `enableRbacAuthorization` false its access
policies decide (an entry for the caller or one of its groups holding the permission; a compound
identity's entry only for a token of that user whose appid/azp is the entry's application); with it
true only Azure role assignments at the vault or above (or at the object itself) count, through
their role definitions' *data actions* (actions never give data access), each within its
condition (evaluated for the object's name; one it cannot evaluate denies). Flipping the flag on
ARM changes who may do what on the next request, as in Azure. A refusal is the service's 403:
`Forbidden` with inner error `ForbiddenByPolicy` (access policies) or `ForbiddenByRbac`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from hsmsync.core.capabilities import permits
from hsmsync.core.catalog import management_role_map
from hsmsync.core.state import LiveState, VaultState
from hsmsync_emulator.arm_common import at_or_above
from hsmsync_emulator.arm_conditions import condition_allows
from hsmsync_emulator.errors import ApiError
from hsmsync_emulator.pipeline import APP_MARK, Operation, paged
from hsmsync_emulator.server import Request, Response
from hsmsync_emulator.store import Store
from hsmsync_emulator.vault_objects import VaultObjects

_DATA = "Microsoft.KeyVault/vaults/"
# Each operation served: its access-policy permission and its Azure RBAC data action
# (the pairs of data/vault_rbac_migration.json, from Microsoft's compare tool).
OPERATIONS: dict[str, tuple[str, str]] = {
    "keys/list": ("keys/list", _DATA + "keys/read"),
    "keys/get": ("keys/get", _DATA + "keys/read"),
    "keys/create": ("keys/create", _DATA + "keys/create/action"),
    "keys/sign": ("keys/sign", _DATA + "keys/sign/action"),
    "keys/wrapkey": ("keys/wrapkey", _DATA + "keys/wrap/action"),
    "keys/unwrapkey": ("keys/unwrapkey", _DATA + "keys/unwrap/action"),
    "secrets/list": ("secrets/list", _DATA + "secrets/readMetadata/action"),
    "secrets/get": ("secrets/get", _DATA + "secrets/getSecret/action"),
    "secrets/set": ("secrets/set", _DATA + "secrets/setSecret/action"),
    "certificates/list": ("certificates/list", _DATA + "certificates/read"),
    "certificates/get": ("certificates/get", _DATA + "certificates/read"),
    "certificates/import": ("certificates/import", _DATA + "certificates/import/action"),
}
_HELP = "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287"


def _body(request: Request) -> Any:
    try:
        return request.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "BadParameter", "The request body is not valid JSON") from None


class VaultService:
    def __init__(self, name: str, store: Store, page_size: Callable[[], int]) -> None:
        self.name = name
        self._store = store
        self._page_size = page_size
        self.objects = VaultObjects()

    def _vault(self, state: LiveState | None = None) -> VaultState:
        vault = (state or self._store.read()).vaults.get(self.name)
        if vault is None:
            raise ApiError(404, "NotFound", f"The vault '{self.name}' no longer exists in the state file")
        return vault

    # ------------------------------------------------------------------------------ authorization

    def is_allowed(self, principals: frozenset[str], action: str, scope: str) -> bool:
        """True, or the 403 the vault answers (raised: its body names the permission model)."""
        state = self._store.read()
        vault = self._vault(state)
        permission, data_action = OPERATIONS[action]
        caller = next(iter(sorted(p for p in principals if not p.startswith(APP_MARK))), "")
        if vault.enable_rbac_authorization:
            if self._rbac_allows(state, vault, principals, data_action, scope):
                return True
            raise ApiError(
                403,
                "Forbidden",
                "Caller is not authorized to perform action on resource.\r\n"
                "If role assignments, deny assignments or role definitions were changed recently, "
                f"please observe propagation time.\r\nAction: '{data_action}'\r\n"
                f"Resource: '{(vault.resource_id + scope).lower()}'\r\nAssignment: (not found)\r\n"
                f"DecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: {self.name};location=local\r\n",
                inner="ForbiddenByRbac",
            )
        kind, _, verb = permission.partition("/")
        for policy in vault.access_policies:
            # A compound identity's entry counts only when the call comes through its application.
            through = policy.application_id is None or APP_MARK + policy.application_id.lower() in principals
            if policy.object_id.lower() in principals and through and verb in getattr(policy, kind):
                return True
        raise ApiError(
            403,
            "Forbidden",
            f"The user, group or application 'oid={caller};' does not have {kind} {verb} permission on "
            f"key vault '{self.name};location=local'. {_HELP}",
            inner="ForbiddenByPolicy",
        )

    @staticmethod
    def _rbac_allows(
        state: LiveState, vault: VaultState, principals: frozenset[str], action: str, scope: str
    ) -> bool:
        resource = vault.resource_id.rstrip("/") + scope.rstrip("/")
        roles = management_role_map(state.arm.role_definitions)
        for a in state.arm.role_assignments:
            if a.principal_id.lower() not in principals or not at_or_above(a.scope, resource):
                continue
            role = roles.get(a.role_definition_id.lower())
            if (
                role is not None
                and permits(role.permissions, action, data=True)
                and condition_allows(a, action, scope)
            ):
                return True
        return False

    # ------------------------------------------------------------------------------------ routing

    def resolve(self, request: Request) -> Operation:
        parts = [unquote(p) for p in request.path.split("/")[1:]]
        while parts and parts[-1] == "":
            parts.pop()
        if not parts or parts[0].lower() not in ("keys", "secrets", "certificates"):
            raise ApiError(404, "NotFound", f"No such operation: {request.method} {request.path}")
        collection, rest = parts[0].lower(), parts[1:]
        base = request.base_url
        if not rest:
            if request.method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"{request.method} is not supported on /{collection}")
            return self._list(request, collection, base)
        name, tail = rest[0], rest[1:]
        return self._object(request, collection, name, tail, f"/{collection}/{name}")

    def _list(self, request: Request, collection: str, base: str) -> Operation:
        items = {
            "keys": self.objects.key_items,
            "secrets": self.objects.secret_items,
            "certificates": self.objects.certificate_items,
        }[collection]

        def run() -> Response:
            return paged(items(base), request, self._page_size(), null_next=True)

        return Operation(run, f"{collection}/list", "")

    def _object(self, request: Request, collection: str, name: str, tail: list[str], scope: str) -> Operation:
        """GET `/{collection}/{name}[/{version}]`, the writes (create a key, set a secret, import a
        certificate) and the key operations (sign, wrapkey, unwrapkey)."""
        m, objects, base = request.method, self.objects, request.base_url
        singular = collection.removesuffix("s")
        if m == "GET" and len(tail) <= 1:
            version = tail[0] if tail else ""
            bundle = {
                "keys": objects.key_bundle,
                "secrets": objects.secret_bundle,
                "certificates": objects.certificate_bundle,
            }[collection]
            return Operation(lambda: Response(200, bundle(base, name, version)), f"{collection}/get", scope)
        writes = {
            ("keys", "POST", "create"): ("keys/create", objects.create_key),
            ("secrets", "PUT", ""): ("secrets/set", objects.set_secret),
            ("certificates", "POST", "import"): ("certificates/import", objects.import_certificate),
        }
        write = writes.get((collection, m, "/".join(tail)))
        if write is not None:
            operation, act = write
            body = _body(request)
            return Operation(lambda: Response(200, act(base, name, body)), operation, scope)
        if collection == "keys" and m == "POST" and 1 <= len(tail) <= 2:
            op, version = tail[-1].lower(), tail[0] if len(tail) == 2 else ""
            if op in ("sign", "wrapkey", "unwrapkey"):
                body = _body(request)

                def run() -> Response:
                    return Response(200, objects.key_operation(base, name, version, op, body))

                return Operation(run, f"keys/{op}", scope)
        raise ApiError(405, "MethodNotAllowed", f"{m} {request.path} is not supported on a {singular}")
