"""`--auth auto`: which sign-in methods the environment selects, in order."""

from __future__ import annotations

import pytest

from hsmsync.backends.auth_methods import auth_method
from hsmsync.backends.azure.signin import detect
from hsmsync.core.errors import HsmsyncError

ACTIONS = {"GITHUB_ACTIONS": "true", "ACTIONS_ID_TOKEN_REQUEST_URL": "https://x/idtoken?api-version=2.0"}
PIPELINES = {"SYSTEM_OIDCREQUESTURI": "https://dev.azure.com/x", "AZURE_SERVICE_CONNECTION_ID": "c"}


@pytest.mark.parametrize(
    ("environ", "methods"),
    [
        (ACTIONS, ["github"]),
        ({**ACTIONS, "AZURE_CLIENT_SECRET": "s"}, ["github"]),
        ({"GITHUB_ACTIONS": "true"}, ["github", "managed-identity", "azure-cli"]),
        (PIPELINES, ["azure-pipelines"]),
        (
            {"SYSTEM_OIDCREQUESTURI": "https://dev.azure.com/x", "TF_BUILD": "True"},
            ["azure-pipelines", "managed-identity", "azure-cli"],
        ),
        ({"AZURE_FEDERATED_TOKEN_FILE": "/var/run/token"}, ["workload-identity"]),
        ({"AZURE_CLIENT_SECRET": "s"}, ["client-secret"]),
        ({"AZURE_CLIENT_CERTIFICATE_PATH": "/c.pem"}, ["client-secret"]),
        # AZURE_FEDERATED_TOKEN_FILE is Kubernetes' (neither CI sets it); a secret does not override it.
        ({"AZURE_FEDERATED_TOKEN_FILE": "/t", "AZURE_CLIENT_SECRET": "s"}, ["workload-identity"]),
        ({}, ["managed-identity", "azure-cli"]),
    ],
)
def test_auto_detection(environ: dict[str, str], methods: list[str]) -> None:
    assert detect(environ) == methods


def test_auth_method_from_flag_then_environment() -> None:
    assert auth_method(None, {}) == "auto"
    assert auth_method(None, {"HSMSYNC_AUTH": "github"}) == "github"
    assert auth_method("azure-cli", {"HSMSYNC_AUTH": "github"}) == "azure-cli"
    with pytest.raises(HsmsyncError, match="HSMSYNC_AUTH='oidc' must be one of auto, github"):
        auth_method(None, {"HSMSYNC_AUTH": "oidc"})
