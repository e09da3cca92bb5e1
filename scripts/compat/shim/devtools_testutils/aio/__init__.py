"""`devtools_testutils.aio` of the live-only stand-in (see the package docstring)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from devtools_testutils import _require_live, trim_kwargs_from_test_function

__all__ = ["recorded_by_proxy_async"]


def recorded_by_proxy_async(test_func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(test_func)
    async def record_wrap(*args: Any, **kwargs: Any) -> Any:
        _require_live()
        trimmed = dict(kwargs)
        trim_kwargs_from_test_function(test_func, trimmed)
        return await test_func(*args, **trimmed)

    return record_wrap
