"""The credential of a live run: `SignIn` (see signin.py), built from the run's settings.

Nothing here mints tokens: against the emulator, too, hsmsync signs in through azure-identity
at the emulator's token service (the endpoints file's `authority`).
"""

from __future__ import annotations

from hsmsync.backends.azure.settings import AzureSettings
from hsmsync.backends.azure.signin import SignIn, SignInOptions


def sign_in_for(settings: AzureSettings) -> SignIn:
    """The run's credential: `settings.auth` with its environment, authority and TLS trust."""
    return SignIn(
        SignInOptions(
            auth=settings.auth,
            environ=settings.environ,
            authority=settings.authority,
            connection_verify=settings.connection_verify,
            timeouts=settings.timeouts,
        )
    )
