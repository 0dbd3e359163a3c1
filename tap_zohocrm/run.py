"""The run's shared services, below the streams and the Zoho client: the layer they talk to.

:class:`ZohoRun` is the tap as its streams and the Zoho client see it: the settings (read
once), the one authenticator, the request gate (``max_concurrent_requests``), the credit
meter, the concurrent syncs and their emit lock, Zoho's reported credits, and the schema and
module facts the tap provides (abstract here, implemented by
:class:`~tap_zohocrm.tap.TapZohoCRM`). Streams take a ``ZohoRun``, so nothing below
``tap.py`` imports it.
"""

from __future__ import annotations

import abc
import collections
import threading
import typing as t
from functools import cached_property

from singer_sdk import Tap
from typing_extensions import override

from tap_zohocrm import early_token
from tap_zohocrm.auth import ZohoOAuthAuthenticator
from tap_zohocrm.concurrency import ConcurrentSyncs, EmitLock
from tap_zohocrm.credits import CreditMeter
from tap_zohocrm.options import TapSettings
from tap_zohocrm.writer import ZohoSingerWriter

if t.TYPE_CHECKING:
    from types import FrameType

    from tap_zohocrm.errors import ZohoAPIError

__all__ = ["ZohoRun"]


class ZohoRun(Tap):
    """A tap run's services for its streams and the Zoho client."""

    message_writer_class = ZohoSingerWriter

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Create the run's services (see :class:`singer_sdk.Tap` for the arguments)."""
        self._metadata_calls: collections.Counter[str] = collections.Counter()
        self._metadata_credits: collections.Counter[str] = collections.Counter()
        #: Modules of the ``modules`` setting that Zoho refused, with the warning given.
        self.refused_modules: dict[str, str] = {}
        #: Zoho's ``X-API-CREDITS-REMAINING``, once it sends one.
        self.credits_remaining: str | None = None
        super().__init__(*args, **kwargs)

    @cached_property
    def settings(self) -> TapSettings:
        """The settings, read once (defaults applied) after the config was validated."""
        return TapSettings.from_config(self.config, self.config_jsonschema)

    @cached_property
    def request_gate(self) -> threading.BoundedSemaphore:
        """Held by every API request in flight: at most ``max_concurrent_requests`` at once."""
        return threading.BoundedSemaphore(self.max_concurrent_requests)

    @property
    def max_concurrent_requests(self) -> int:
        """``max_concurrent_requests`` (default 3)."""
        return self.settings.max_concurrent_requests

    @cached_property
    def emit(self) -> EmitLock:
        """Held by the one thread that writes messages and changes the state (concurrency.py)."""
        return EmitLock()

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # SIGTERM/SIGINT: singer-sdk writes the state and exits. Streams may be writing on
        # their threads: take the emit lock first, so that STATE comes whole and after the
        # records it covers (the stream threads then stay at their next wait).
        self.emit.hold()
        super()._handle_termination(signum, frame)

    @cached_property
    def syncs(self) -> ConcurrentSyncs:
        """The module streams' syncs, on threads up to ``max_concurrent_requests`` at once."""
        return ConcurrentSyncs(self.max_concurrent_requests, self.emit)

    @cached_property
    def meter(self) -> CreditMeter:
        """Credits spent by every stream of this run, against ``max_credits_per_run``."""
        return CreditMeter(self.settings.max_credits_per_run)

    @cached_property
    def authenticator(self) -> ZohoOAuthAuthenticator:
        """The run's one authenticator, shared by every stream."""
        settings = self.settings
        return ZohoOAuthAuthenticator(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            refresh_token=settings.refresh_token,
            auth_method=settings.auth_method,
            soid=settings.soid,
            scopes=settings.scopes,
            data_center=settings.data_center,
            environment=settings.environment,
            accounts_url=settings.accounts_url,
            api_domain=settings.api_domain,
            timeout=settings.request_timeout,
            user_agent=settings.user_agent or self.default_user_agent,
            logger=self.logger.getChild("auth"),
        )

    @property
    def api_domain(self) -> str:
        """The API domain all calls go to (override, else the token's, else the table's)."""
        return self.authenticator.api_domain

    @cached_property
    def default_user_agent(self) -> str:
        """``tap-zohocrm/<version>``."""
        return early_token.default_user_agent()

    def end_of_stream(self) -> None:
        """Write a finished stream's held RECORD lines (its last STATE may be a repeat)."""
        writer = self.message_writer
        if isinstance(writer, ZohoSingerWriter):
            writer.flush()

    def metadata_calls(self, module: str) -> int:
        """Field-metadata API calls made for a module in this process."""
        return self._metadata_calls[module]

    def metadata_credits(self, module: str) -> int:
        """API credits the field-metadata calls for a module spent in this process."""
        return self._metadata_credits[module]

    def count_metadata(self, module: str, calls: int, credits: int) -> None:
        """Add field-metadata calls and credits spent for a module."""
        self._metadata_calls[module] += calls
        self._metadata_credits[module] += credits

    # -- what the tap provides ---------------------------------------------------------

    @abc.abstractmethod
    def module_schema(self, module: str, stream_name: str) -> dict:
        """A module's schema from its field metadata."""

    @abc.abstractmethod
    def module_fields(self, module: str) -> list[dict[str, t.Any]]:
        """A module's field metadata (``/settings/fields``), read once per run."""

    @abc.abstractmethod
    def standard_module_schema(self, stream_name: str) -> dict:
        """The bundled schema of a stream's standard fields."""

    @abc.abstractmethod
    def optional_modules(self) -> frozenset[str]:
        """Modules of the ``modules`` setting besides Leads, Contacts and Deals."""

    @abc.abstractmethod
    def refuse_module(self, module: str, ex: ZohoAPIError) -> None:
        """Give the one warning for a module Zoho refuses."""

    @abc.abstractmethod
    def concurrent_streams(self) -> dict[str, t.Callable[[], None]]:
        """The selected module streams in sync order: name -> singer-sdk's sync of it."""
