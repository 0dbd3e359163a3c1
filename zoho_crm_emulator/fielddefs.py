"""Zoho's field and module definitions as data: types, lengths, stable ids, value tables.

The emulated org's modules (``metadata.py``) are built from these; record generation
(``data.py``) draws its values from the tables here.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

#: json_type Zoho reports for each data_type (formulas take theirs from return_type).
JSON_TYPES: dict[str, str] = {
    "text": "string",
    "textarea": "string",
    "email": "string",
    "phone": "string",
    "website": "string",
    "picklist": "string",
    "multiselectpicklist": "jsonarray",
    "integer": "integer",
    "bigint": "string",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "decimal": "double",
    "autonumber": "string",
    "date": "string",
    "datetime": "string",
    "boolean": "boolean",
    "lookup": "jsonobject",
    "ownerlookup": "jsonobject",
    "formula": "double",
    "subform": "jsonarray",
}

#: ``length`` Zoho reports per data type (an integer on every field).
FIELD_LENGTHS: dict[str, int] = {
    "text": 255, "textarea": 32000, "email": 100, "phone": 30, "website": 255,
    "picklist": 120, "multiselectpicklist": 2000, "integer": 9, "bigint": 18, "double": 16,
    "currency": 16, "percent": 5, "autonumber": 255, "date": 20, "datetime": 120,
    "boolean": 5, "lookup": 120, "ownerlookup": 120, "formula": 16, "subform": 0,
}  # fmt: skip

#: Fields whose values come from the record's own state rather than from generation.
CORE_FIELDS = frozenset(
    {
        "Created_Time",
        "Modified_Time",
        "Converted__s",
        "Converted_Date_Time",
        "Converted_Account",
        "Converted_Contact",
        "Converted_Deal",
        "What_Id",
        "Parent_Id",
    }
)
#: The modules an activity's ``What_Id`` points at, with their shares of generated activities.
ACTIVITY_PARENTS = (("Leads", 0.5), ("Deals", 0.3), ("Accounts", 0.2))
#: The field that names a record's parent of any module (with the ``$se_module`` key).
PARENT_FIELDS = ("What_Id", "Parent_Id")
#: Modules Bulk Read does not export (Zoho: Notes, Attachments, Emails).
NOT_IN_BULK_READ = frozenset({"Notes"})


@dataclass(frozen=True)
class FieldDef:
    """One field of a module, as ``/settings/fields`` describes it.

    Attributes:
        api_name: Zoho API name.
        data_type: Zoho data_type (``text``, ``lookup``, ``formula``, ...).
        label: Field label; derived from the API name when empty.
        mandatory: system_mandatory flag.
        read_only: read_only flag (system-maintained fields).
        custom: custom_field flag.
        lookup: Target module API name of a lookup.
        picklist: Picklist or multi-select values.
        return_type: A formula's return type.
        json_type: Overrides the json_type derived from data_type (``Tag``).
    """

    api_name: str
    data_type: str
    label: str = ""
    mandatory: bool = False
    read_only: bool = False
    custom: bool = False
    lookup: str | None = None
    picklist: tuple[str, ...] = ()
    return_type: str | None = None
    json_type: str | None = None

    @property
    def field_label(self) -> str:
        """Return the label shown in Zoho's UI."""
        return self.label or self.api_name.replace("__s", "").replace("_", " ")

    @property
    def resolved_json_type(self) -> str:
        """Return the json_type a client should map this field's values with."""
        if self.json_type:
            return self.json_type
        if self.data_type == "formula":
            return JSON_TYPES.get(self.return_type or "double", "string")
        return JSON_TYPES[self.data_type]

    def to_api(self, module: str) -> dict[str, Any]:
        """Render the field the way ``GET /settings/fields`` does."""
        pick_list = [
            {
                "display_value": value,
                "actual_value": value,
                "sequence_number": n + 1,
                "id": stable_id(f"{module}.{self.api_name}.{value}"),
                "type": "used",
            }
            for n, value in enumerate(self.picklist)
        ]
        lookup: dict[str, Any] = {}
        if self.lookup:
            lookup = {
                "display_label": self.field_label,
                "api_name": self.api_name,
                "module": {"api_name": self.lookup, "id": stable_id(f"module.{self.lookup}")},
                "id": stable_id(f"{module}.{self.api_name}.lookup"),
            }
        formula: dict[str, Any] = {}
        if self.data_type == "formula":
            formula = {"return_type": self.return_type or "double", "expression": "..."}
        return {
            "api_name": self.api_name,
            "id": stable_id(f"{module}.{self.api_name}"),
            "field_label": self.field_label,
            "display_label": self.field_label,
            "data_type": self.data_type,
            "json_type": self.resolved_json_type,
            "system_mandatory": self.mandatory,
            "read_only": self.read_only,
            "field_read_only": self.read_only,
            "custom_field": self.custom,
            "visible": True,
            "sortable": self.data_type not in ("multiselectpicklist", "textarea"),
            "length": FIELD_LENGTHS.get(self.data_type, 255),
            "decimal_place": 2 if self.data_type in ("currency", "double", "percent") else None,
            "auto_number": (
                {"prefix": f"{self.api_name[:3].upper()}-", "suffix": "", "start_number": 1}
                if self.data_type == "autonumber"
                else {}
            ),
            "currency": (
                {"rounding_option": "normal", "precision": 2}
                if self.data_type == "currency"
                else {}
            ),
            "lookup": lookup,
            "associated_module": (
                {"module": self.api_name, "id": stable_id(f"subform.{self.api_name}")}
                if self.data_type == "subform"
                else None
            ),
            "formula": formula,
            "pick_list_values": pick_list,
            "unique": {},
        }


@dataclass(frozen=True)
class ModuleDef:
    """One module, as ``/settings/modules`` describes it.

    Attributes:
        api_name: Module API name used in URLs.
        singular_label: Singular label.
        plural_label: Plural label (also module_name's display).
        fields: Field definitions in display order.
        display_field: Field whose value names a record in lookups and the recycle bin.
        api_supported: Whether the REST API serves this module.
        generated_type: ``default`` for standard modules, ``custom`` for custom ones.
    """

    api_name: str
    singular_label: str
    plural_label: str
    fields: tuple[FieldDef, ...] = ()
    display_field: str = "Name"
    api_supported: bool = True
    generated_type: str = "default"
    by_name: dict[str, FieldDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.api_name: f for f in self.fields})

    def formula_fields(self) -> list[FieldDef]:
        """Return the module's formula fields (values that change without Modified_Time)."""
        return [f for f in self.fields if f.data_type == "formula"]

    def to_api(self, sequence: int) -> dict[str, Any]:
        """Render the module the way ``GET /settings/modules`` does."""
        return {
            "api_name": self.api_name,
            "module_name": self.api_name,
            "singular_label": self.singular_label,
            "plural_label": self.plural_label,
            "id": stable_id(f"module.{self.api_name}"),
            "api_supported": self.api_supported,
            "generated_type": self.generated_type,
            "creatable": self.api_supported,
            "editable": self.api_supported,
            "deletable": self.api_supported,
            "viewable": True,
            "visible": True,
            "convertable": self.api_name == "Leads",
            "status": "visible",
            "sequence_number": sequence,
            "modified_time": None,
        }


def stable_id(key: str) -> str:
    """Return a deterministic 19-digit id for a metadata object (field, module, option)."""
    return str(5_725_767_000_000_000_000 + zlib.crc32(key.encode()) % 1_000_000)


# --- Field building blocks -------------------------------------------------------------

#: A deal's way through the pipeline, in order; a closed stage follows the last open one.
OPEN_STAGES = (
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Identify Decision Makers",
    "Proposal/Price Quote",
    "Negotiation/Review",
)
CLOSED_STAGES = ("Closed Won", "Closed Lost", "Closed-Lost to Competition")

LEAD_SOURCES = (
    "Advertisement",
    "Cold Call",
    "Employee Referral",
    "External Referral",
    "Online Store",
    "Partner",
    "Public Relations",
    "Sales Email Alias",
    "Seminar Partner",
    "Trade Show",
    "Web Download",
    "Web Research",
    "Chat",
)
LEAD_STATUSES = (
    "Attempted to Contact",
    "Contact in Future",
    "Contacted",
    "Junk Lead",
    "Lost Lead",
    "Not Contacted",
    "Pre-Qualified",
    "Not Qualified",
)
INDUSTRIES = (
    "ASP (Application Service Provider)",
    "Data/Telecom OEM",
    "ERP (Enterprise Resource Planning)",
    "Government/Military",
    "Large Enterprise",
    "Management ISV",
    "MSP (Management Service Provider)",
    "Network Equipment Enterprise",
    "Non-management ISV",
    "Optical Networking",
    "Service Provider",
    "Small/Medium Enterprise",
    "Storage Equipment",
    "Storage Service Provider",
    "Systems Integrator",
    "Wireless Industry",
)
RATINGS = ("Acquired", "Active", "Market Failed", "Project Cancelled", "Shut Down")
SALUTATIONS = ("Mr.", "Mrs.", "Ms.", "Dr.", "Prof.")
