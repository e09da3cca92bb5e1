"""A live-only stand-in for `devtools_testutils` (azure-sdk-tools), written for hsmsync's compat run.

The Azure SDK's tests import `devtools_testutils`, which ships in the azure-sdk-for-python repository
(tools/azure-sdk-tools) and is not on the package index. In live mode without recording
(AZURE_TEST_RUN_LIVE=true, AZURE_SKIP_LIVE_RECORDING=true) that package does nothing but pass
through: `recorded_by_proxy` calls the test, sanitizers and matchers return without a test proxy,
and `AzureRecordedTestCase` builds clients with a `ClientSecretCredential` from AZURE_TENANT_ID /
AZURE_CLIENT_ID / AZURE_CLIENT_SECRET. This module provides exactly that behaviour and nothing else;
it refuses to run in playback or record mode, which need the real test proxy.

The one difference is plumbing: the credential's authority is the emulator's token service
(AZURE_AUTHORITY_HOST), and instance discovery is off because that host is no Azure cloud.
"""

from __future__ import annotations

import functools
import inspect
import os
import zlib
from collections.abc import Callable
from typing import Any

import pytest

__all__ = [
    "AzureMgmtPreparer",
    "AzureRecordedTestCase",
    "add_body_key_sanitizer",
    "add_general_regex_sanitizer",
    "add_general_string_sanitizer",
    "add_header_regex_sanitizer",
    "add_oauth_response_sanitizer",
    "add_remove_header_sanitizer",
    "add_uri_regex_sanitizer",
    "add_uri_string_sanitizer",
    "is_live",
    "is_live_and_not_recording",
    "recorded_by_proxy",
    "remove_batch_sanitizers",
    "set_bodiless_matcher",
    "set_custom_default_matcher",
    "set_headerless_matcher",
    "test_proxy",
]


def _true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("true", "yes", "1")


def is_live() -> bool:
    return _true("AZURE_TEST_RUN_LIVE")


def is_live_and_not_recording() -> bool:
    return is_live() and _true("AZURE_SKIP_LIVE_RECORDING")


def _require_live() -> None:
    if not is_live_and_not_recording():
        raise RuntimeError(
            "this devtools_testutils stand-in runs live tests only: set AZURE_TEST_RUN_LIVE=true "
            "and AZURE_SKIP_LIVE_RECORDING=true (playback and recording need the real test proxy)"
        )


# ------------------------------------------------------------------ sanitizers and matchers


def _no_proxy(*args: Any, **kwargs: Any) -> None:  # noqa: ARG001 - the real functions' signatures
    """Sanitizers and matchers configure the test proxy; live without recording there is none."""
    _require_live()


add_body_key_sanitizer = _no_proxy
add_general_regex_sanitizer = _no_proxy
add_general_string_sanitizer = _no_proxy
add_header_regex_sanitizer = _no_proxy
add_oauth_response_sanitizer = _no_proxy
add_remove_header_sanitizer = _no_proxy
add_uri_regex_sanitizer = _no_proxy
add_uri_string_sanitizer = _no_proxy
remove_batch_sanitizers = _no_proxy
set_bodiless_matcher = _no_proxy
set_custom_default_matcher = _no_proxy
set_headerless_matcher = _no_proxy


@pytest.fixture(scope="session")
def test_proxy() -> None:
    """The real fixture starts the test proxy, except live without recording: then it does nothing."""
    _require_live()


# ------------------------------------------------------------------------------ decorators


def trim_kwargs_from_test_function(fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """Drop the keyword arguments a test function does not take (what the real helper does)."""
    if getattr(fn, "__is_preparer", False):
        return
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for name in [k for k in kwargs if k not in params]:
        del kwargs[name]


def recorded_by_proxy(test_func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(test_func)
    def record_wrap(*args: Any, **kwargs: Any) -> Any:
        _require_live()
        trimmed = dict(kwargs)
        trim_kwargs_from_test_function(test_func, trimmed)
        return test_func(*args, **trimmed)

    return record_wrap


# ----------------------------------------------------------------------------- test case


def get_resource_name(name_prefix: str, identifier: bytes) -> str:
    """As the real helper: the prefix and the hex Adler-32 of the current test's id (stable per test)."""
    return f"{name_prefix}{zlib.adler32(identifier) & 0xFFFFFFFF:x}"


def _credential_kwargs() -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    authority = os.environ.get("AZURE_AUTHORITY_HOST", "").strip()
    if authority:
        kwargs["authority"] = authority
        kwargs["disable_instance_discovery"] = True
    return kwargs


class AzureRecordedTestCase:
    @property
    def is_live(self) -> bool:
        return is_live()

    @property
    def in_recording(self) -> bool:
        return self.is_live

    def is_playback(self) -> bool:
        return not self.is_live

    def get_credential(self, client_class: Any, **kwargs: Any) -> Any:  # noqa: ARG002 - the real signature
        _require_live()
        tenant_id = os.environ.get("AZURE_TENANT_ID", "")
        client_id = os.environ.get("AZURE_CLIENT_ID", "")
        secret = os.environ.get("AZURE_CLIENT_SECRET", "")
        if not (tenant_id and client_id and secret):
            raise RuntimeError("set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for live tests")
        if kwargs.pop("is_async", False):
            from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential

            return AsyncClientSecretCredential(tenant_id, client_id, secret, **_credential_kwargs())
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(tenant_id, client_id, secret, **_credential_kwargs())

    def create_client_from_credential(self, client_class: Any, credential: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("logging_enable", True)
        return client_class(credential=credential, **kwargs)

    def create_random_name(self, name: str) -> str:
        unique_test_name = os.environ["PYTEST_CURRENT_TEST"].encode("utf-8")
        return get_resource_name(name, unique_test_name)

    def get_resource_name(self, name: str) -> str:
        return self.create_random_name(name)

    def sleep(self, seconds: float) -> None:
        import time

        if self.is_live:
            time.sleep(seconds)


class AzureMgmtPreparer:
    """Imported by the SDK's `_shared/preparer.py`, which the compat run's test files do not use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ARG002
        raise RuntimeError("AzureMgmtPreparer (resource-creating preparers) is not part of the compat run")
