"""Line items: subform rows (``Quoted_Items``, ...) as child streams, read through COQL.

A subform is its own COQL module whose rows carry ``id`` and ``Parent_Id``. Each run lists the
parents changed since the stream's bookmark (Get Records, ``fields=Modified_Time``, 1 credit
per 200) and reads their rows 50 parents per query (``Parent_Id in (...)``, LIMIT 200 -> 1
credit for up to 200 rows). The first sync reads every parent the same way.

Rows removed from a parent become deletions: the state keeps each parent's row ids
(``rows_by_parent``), updated only after the parent's rows were emitted, so a run stopped in
between re-reads that parent and emits the same deletions again. Rows of deleted parents
become deletions from the parent module's recycle bin (2 credits per run).
"""

from __future__ import annotations

import datetime
import typing as t
from collections.abc import Iterable, Iterator, Sequence
from http import HTTPStatus

from singer_sdk import typing as th
from typing_extensions import override

from tap_zohocrm import coql
from tap_zohocrm.client import page_info, page_records
from tap_zohocrm.deletions import DeletedRecordsReader, newest_deletion
from tap_zohocrm.errors import ZohoAPIError, ZohoConfigError, ZohoScopeError
from tap_zohocrm.modules import stream_name_for
from tap_zohocrm.related import PARENT_MODIFIED, PerRecordStream, utc_text
from tap_zohocrm.schema import DELETED_AT, LOOKUP_MARKER, SYSTEM_KEYS, module_schema

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_zohocrm.run import ZohoRun

__all__ = ["LINE_ITEM_STREAMS", "LineItemsStream", "custom_subform_stream"]

#: State keys: each parent's row ids, and where the parents' deletion listing continues.
ROWS_KEY = "rows_by_parent"
PARENTS_DELETED_KEY = "parents_deleted_time"
#: Parents per ``Parent_Id in (...)`` query.
PARENTS_PER_QUERY = 50

_Named = th.ObjectType(
    th.Property("name", th.StringType), th.Property("id", th.StringType), additional_properties=True
)


def _products() -> th.Property:
    return th.Property("Product_Name", _Named, description=f"{LOOKUP_MARKER}Products.")


class LineItemsStream(PerRecordStream):
    """The rows of one subform of one parent module, keyed by the row id."""

    subform: t.ClassVar[str] = ""
    primary_keys: t.ClassVar[list[str]] = ["id"]  # type: ignore[misc]
    backfill_by_default = True
    required_scope = "ZohoCRM.coql.READ"
    properties = th.PropertiesList(
        th.Property("id", th.StringType, required=True),
        th.Property("parent_id", th.StringType),
        th.Property("parent_module", th.StringType),
        _products(),
        th.Property("Quantity", th.NumberType),
        th.Property("List_Price", th.NumberType),
        th.Property("Discount", th.NumberType),
        th.Property("Total", th.NumberType),
        th.Property("Description", th.StringType),
        th.Property("Sequence_Number", th.IntegerType),
        th.Property(PARENT_MODIFIED, th.DateTimeType),
        th.Property(DELETED_AT, th.DateTimeType),
    )
    #: Properties that are not subform fields.
    _OWN = frozenset({"id", "parent_id", "parent_module", PARENT_MODIFIED, DELETED_AT})

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """The rows; none, with one warning, when the org has no such module or subform."""
        try:
            yield from super().get_records(context)
        except ZohoScopeError:
            raise
        except ZohoAPIError as ex:
            if ex.status not in (HTTPStatus.BAD_REQUEST, HTTPStatus.FORBIDDEN):
                raise
            self.logger.warning(
                "Stream %s is empty: Zoho CRM refused %s or its %s subform for this org (%s); "
                "deselect the stream to silence this.",
                self.name,
                self.parent_module,
                self.subform,
                ex.code or f"HTTP {ex.status}",
            )

    def _reads(self) -> list[coql.FieldRead]:
        properties = self.schema["properties"]
        names = [n for n in properties if n not in self._OWN]
        reads, unsupported = coql.plan_fields(properties, names)
        if unsupported:  # a declaration error, not an org's
            msg = f"{self.name}: cannot read {', '.join(unsupported)} through COQL"
            raise ValueError(msg)
        return [*reads, coql.FieldRead("Parent_Id", ("Parent_Id",))]

    @override
    def rows_for_parents(
        self, parents: Iterator[tuple[str, str]], since: str | None, state: dict[str, t.Any]
    ) -> Iterator[dict[str, t.Any]]:
        known: dict[str, list[str]] = state.setdefault(ROWS_KEY, {})
        reads = self._reads()
        batch: list[tuple[str, str]] = []
        for parent in parents:
            batch.append(parent)
            if len(batch) == PARENTS_PER_QUERY:
                yield from self._emit(batch, reads, known)
                batch = []
        if batch:
            yield from self._emit(batch, reads, known)
        yield from self._deleted_parents(state, known)

    def _emit(
        self,
        batch: Sequence[tuple[str, str]],
        reads: Sequence[coql.FieldRead],
        known: dict[str, list[str]],
    ) -> Iterator[dict[str, t.Any]]:
        rows = self._rows([parent_id for parent_id, _ in batch], reads)
        for parent_id, modified in batch:
            utc = utc_text(modified)
            current = rows.get(parent_id, [])
            ids = {row["id"] for row in current}
            for gone in sorted(set(known.get(parent_id, [])) - ids):
                yield self._deletion(gone, parent_id, utc, utc)
            for row in current:
                yield {**row, PARENT_MODIFIED: utc, DELETED_AT: None}
            if current:
                known[parent_id] = sorted(ids)
            else:
                known.pop(parent_id, None)

    def _rows(
        self, parent_ids: Sequence[str], reads: Sequence[coql.FieldRead]
    ) -> dict[str, list[dict[str, t.Any]]]:
        columns = ["id", *coql.columns_of(reads)]
        listed = ", ".join(str(int(parent_id)) for parent_id in parent_ids)
        rows: dict[str, list[dict[str, t.Any]]] = {}
        after: str | None = None
        query_number = 0
        while True:
            limit = coql.ladder_limit(query_number, large=False)
            query_number += 1
            where = f"Parent_Id in ({listed})" + (f" and id > {int(after)}" if after else "")
            query = (
                f"select {', '.join(columns)} from {self.subform} where {where} "
                f"order by id asc limit {limit}"
            )
            response = self.send_coql(query)
            page = page_records(response) if response.status_code == HTTPStatus.OK else []
            for raw in page:
                record: dict[str, t.Any] = {}
                coql.rebuild(raw, reads, record)
                parent = record.pop("Parent_Id", None) or {}
                parent_id = str(parent.get("id")) if isinstance(parent, dict) else None
                if parent_id is None:
                    continue
                rows.setdefault(parent_id, []).append(
                    {
                        "id": str(raw.get("id")),
                        "parent_id": parent_id,
                        "parent_module": self.parent_module,
                        **{k: v for k, v in record.items() if not k.startswith("$")},
                    }
                )
            if not page or not page_info(response).get("more_records"):
                return rows
            after = str(page[-1].get("id"))

    def _deleted_parents(
        self, state: dict[str, t.Any], known: dict[str, list[str]]
    ) -> Iterator[dict[str, t.Any]]:
        """Deletions for the rows of parents deleted since the last run (recycle bin)."""
        since = state.get(PARENTS_DELETED_KEY)
        reader = DeletedRecordsReader(self.zoho_tap, self.parent_module)
        if since is None:
            # A first sync holds no earlier rows: start the listing at Zoho's clock.
            state[PARENTS_DELETED_KEY] = (self._listed_at or _now()).isoformat()
            return
        entries = reader.read(str(since))
        bookmark = state.get("replication_key_value")
        for entry in entries:
            parent_id = str(entry.get("id"))
            when = entry.get("deleted_time")
            for gone in known.pop(parent_id, []):
                yield self._deletion(gone, parent_id, when, bookmark)
        state[PARENTS_DELETED_KEY] = newest_deletion(entries, str(since))

    def _deletion(
        self, row_id: str, parent_id: str, when: t.Any, bookmark: t.Any
    ) -> dict[str, t.Any]:
        record = dict.fromkeys(self.schema["properties"])
        record.update(
            {
                "id": row_id,
                "parent_id": parent_id,
                "parent_module": self.parent_module,
                DELETED_AT: when,
                PARENT_MODIFIED: bookmark,
            }
        )
        return record


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


class QuotedItemsStream(LineItemsStream):
    """The line items of quotes (``Quoted_Items``)."""

    name = "quoted_items"
    parent_module = "Quotes"
    subform = "Quoted_Items"


class OrderedItemsStream(LineItemsStream):
    """The line items of sales orders (``Ordered_Items``)."""

    name = "ordered_items"
    parent_module = "Sales_Orders"
    subform = "Ordered_Items"


class InvoicedItemsStream(LineItemsStream):
    """The line items of invoices (``Invoiced_Items``)."""

    name = "invoiced_items"
    parent_module = "Invoices"
    subform = "Invoiced_Items"


class PurchaseItemsStream(LineItemsStream):
    """The line items of purchase orders (``Purchase_Items``)."""

    name = "purchase_items"
    parent_module = "Purchase_Orders"
    subform = "Purchase_Items"


LINE_ITEM_STREAMS: tuple[type[LineItemsStream], ...] = (
    QuotedItemsStream,
    OrderedItemsStream,
    InvoicedItemsStream,
    PurchaseItemsStream,
)


def subform_schema(fields: Sequence[dict[str, t.Any]]) -> dict[str, t.Any]:
    """A custom subform's stream schema from its ``/settings/fields``."""
    fields_schema = module_schema([f for f in fields if f.get("api_name") != "Parent_Id"])
    properties: dict[str, t.Any] = {
        "id": {"type": ["string"]},
        "parent_id": {"type": ["string", "null"]},
        "parent_module": {"type": ["string", "null"]},
    }
    for name, prop in fields_schema["properties"].items():
        if name not in ("id", DELETED_AT) and name not in SYSTEM_KEYS:
            properties[name] = prop
    properties[PARENT_MODIFIED] = {"type": ["string", "null"], "format": "date-time"}
    properties[DELETED_AT] = {"type": ["string", "null"], "format": "date-time"}
    return {"type": "object", "properties": properties}


def custom_subform_stream(tap: ZohoRun, spec: str) -> LineItemsStream:
    """The stream of a ``subforms`` entry such as ``Accounts.Renewals``.

    Its schema comes from the input catalog, else from the subform's ``/settings/fields``
    (1 credit, discovery only).
    """
    parent_module, _, subform = spec.partition(".")
    if not parent_module or not subform:
        msg = (
            "The subforms setting takes Parent.Subform API names (Accounts.Renewals), "
            f"not {spec!r}."
        )
        raise ZohoConfigError(msg)
    name = stream_name_for(subform)
    catalog = tap.input_catalog
    entry = catalog.get_stream(name) if catalog is not None else None
    if entry is not None:
        schema = entry.schema.to_dict()
    else:
        schema = subform_schema(tap.module_fields(subform))
    declared = type(
        f"{subform}Stream",
        (LineItemsStream,),
        {
            "name": name,
            "parent_module": parent_module,
            "subform": subform,
            "selected_by_default": True,  # named in the setting: wanted
            "__doc__": spec,
        },
    )
    return declared(tap, schema=schema)
