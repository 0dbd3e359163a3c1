"""The tap's settings, read once into a frozen dataclass with the schema's defaults applied.

Streams and readers take ``tap.settings.<name>`` instead of ``config.get(name) or default``,
so a default lives in one place (``config_schema.py``) and a typo is a type error.
"""

from __future__ import annotations

import dataclasses
import typing as t

__all__ = ["TapSettings"]


def _default(schema: t.Mapping[str, t.Any], name: str) -> t.Any:
    return schema.get("properties", {}).get(name, {}).get("default")


@dataclasses.dataclass(frozen=True)
class TapSettings:
    """Every setting of tap-zohocrm, validated by the settings schema before it is built."""

    client_id: str
    client_secret: str
    auth_method: str
    refresh_token: str | None
    soid: str | None
    scopes: str
    data_center: str
    environment: str
    accounts_url: str | None
    api_domain: str | None
    start_date: str | None
    page_size: int
    request_timeout: int
    user_agent: str | None
    include_converted_leads: bool
    include_deleted: bool
    modules: tuple[str, ...]
    subforms: tuple[str, ...]
    timeline_modules: tuple[str, ...]
    timeline_backfill: bool
    stage_history_backfill: bool
    pagination: str
    refresh_formula_fields: bool
    read_method: str
    coql_max_fields: int
    max_concurrent_requests: int
    max_credits_per_run: int | None
    backfill_method: str
    bulk_threshold: int
    bulk_max_wait_seconds: float

    @classmethod
    def from_config(
        cls, config: t.Mapping[str, t.Any], schema: t.Mapping[str, t.Any]
    ) -> TapSettings:
        """The settings of ``config``; a missing, null or empty value takes the schema's default.

        Args:
            config: The tap's config (already validated).
            schema: The tap's settings schema (its ``default`` values).

        Returns:
            The settings.
        """

        def value(name: str) -> t.Any:
            given = config.get(name)
            return _default(schema, name) if given is None or given == "" else given

        def text(name: str) -> str | None:
            given = value(name)
            return None if given is None else str(given)

        def lowered(name: str) -> str:
            return str(value(name)).lower()

        def names(name: str) -> tuple[str, ...]:
            return tuple(dict.fromkeys(str(item) for item in value(name) or ()))

        budget = value("max_credits_per_run")
        return cls(
            client_id=str(config.get("client_id") or ""),
            client_secret=str(config.get("client_secret") or ""),
            auth_method=lowered("auth_method"),
            refresh_token=text("refresh_token"),
            soid=text("soid"),
            scopes=str(value("scopes")),
            data_center=lowered("data_center"),
            environment=lowered("environment"),
            accounts_url=text("accounts_url"),
            api_domain=text("api_domain"),
            start_date=text("start_date"),
            page_size=int(value("page_size")),
            request_timeout=int(value("request_timeout")),
            user_agent=text("user_agent"),
            include_converted_leads=bool(value("include_converted_leads")),
            include_deleted=bool(value("include_deleted")),
            modules=names("modules"),
            subforms=names("subforms"),
            timeline_modules=names("timeline_modules"),
            timeline_backfill=bool(value("timeline_backfill")),
            stage_history_backfill=bool(value("stage_history_backfill")),
            pagination=lowered("pagination"),
            refresh_formula_fields=bool(value("refresh_formula_fields")),
            read_method=lowered("read_method"),
            coql_max_fields=int(value("coql_max_fields")),
            max_concurrent_requests=int(value("max_concurrent_requests")),
            max_credits_per_run=int(budget) if budget else None,
            backfill_method=lowered("backfill_method"),
            bulk_threshold=int(value("bulk_threshold")),
            bulk_max_wait_seconds=float(value("bulk_max_wait_seconds")),
        )
