"""The retry policy of Zoho calls (pure, no I/O): how long to wait, and the sentences.

The Zoho client (``client.py``) plugs these into singer-sdk's backoff hooks.
"""

from __future__ import annotations

import random
import typing as t
from http import HTTPStatus

from singer_sdk.exceptions import RetriableAPIError

from tap_zohocrm.auth import backoff_scale
from tap_zohocrm.paging import retry_after_seconds

__all__ = ["TokenRejected", "gave_up_sentence", "retry_waits", "short_reason"]


class TokenRejected(RetriableAPIError):
    """401 INVALID_TOKEN: the token was dropped; retry at once with a fresh one."""


def retry_waits(factor: float, max_wait: float) -> t.Generator[float, t.Any, None]:
    """Exponential backoff with jitter that honours ``Retry-After``.

    The backoff library sends the exception of the failed attempt into the generator, so
    each wait can look at the response: a ``Retry-After`` (seconds) sets the wait (capped by
    ``max_wait``); a rejected token is retried at once. Otherwise the wait doubles from
    ``factor`` with "equal jitter" (half fixed, half random), so a crowd of clients spreads
    out but each still backs off.
    """
    exception = yield 0.0  # primed by the backoff library
    retry = 0
    scale = backoff_scale()  # 1.0 except in tests (TAP_ZOHOCRM_BACKOFF_SCALE)
    while True:
        if isinstance(exception, TokenRejected):
            wait = 0.0
        else:
            base = min(max_wait, factor * 2.0**retry)
            retry += 1
            wait = base / 2 + random.uniform(0, base / 2)
            retry_after = retry_after_seconds(exception)
            if retry_after is not None:
                wait = min(max_wait, retry_after) + random.uniform(0, 0.1)
        exception = yield wait * scale


def short_reason(exc: BaseException | None) -> str:
    """What failed, for a retry's log line."""
    if exc is None:
        return "no exception"
    if isinstance(exc, RetriableAPIError) and exc.args:
        return str(exc.args[0])
    return type(exc).__name__


def gave_up_sentence(reason: str, status: int | None, tries: int) -> str:
    """The one sentence of a call that kept failing after every attempt."""
    hint = (
        "; the org's daily API credits may be spent or too many clients call at once, so "
        "run the tap again later"
        if status == HTTPStatus.TOO_MANY_REQUESTS
        else ""
    )
    return f"{reason.rstrip('.')} (still failing after {tries} attempts){hint}."
