"""Modules of the emulated org (their fields are ``fielddefs.FieldDef``s).

One table describes every module: which fields it has, their Zoho data types, which are
custom, lookups and formulas. The same definitions drive the settings endpoints, record
generation and validation of the ``fields`` parameter, so they can never disagree.
"""

from __future__ import annotations

from typing import Any

from zoho_crm_emulator.fielddefs import (
    CLOSED_STAGES,
    INDUSTRIES,
    LEAD_SOURCES,
    LEAD_STATUSES,
    OPEN_STAGES,
    PARENT_FIELDS,
    RATINGS,
    SALUTATIONS,
    FieldDef,
    ModuleDef,
)


def _owner(name: str = "Owner", label: str = "") -> FieldDef:
    return FieldDef(name, "ownerlookup", label)


def _system_tail() -> tuple[FieldDef, ...]:
    """Return the audit fields every module has."""
    return (
        FieldDef("Created_By", "ownerlookup", read_only=True),
        FieldDef("Modified_By", "ownerlookup", read_only=True),
        FieldDef("Created_Time", "datetime", read_only=True),
        FieldDef("Modified_Time", "datetime", read_only=True),
        FieldDef("Tag", "text", json_type="jsonarray"),
    )


def _pick(name: str, values: tuple[str, ...], **kw: Any) -> FieldDef:
    return FieldDef(name, "picklist", picklist=values, **kw)


LEADS = ModuleDef(
    "Leads",
    "Lead",
    "Leads",
    display_field="Full_Name",
    fields=(
        _owner("Owner", "Lead Owner"),
        _pick("Salutation", SALUTATIONS),
        FieldDef("First_Name", "text"),
        FieldDef("Last_Name", "text", mandatory=True),
        FieldDef("Full_Name", "text", read_only=True),
        FieldDef("Company", "text"),
        FieldDef("Designation", "text", "Title"),
        FieldDef("Email", "email"),
        FieldDef("Secondary_Email", "email"),
        FieldDef("Phone", "phone"),
        FieldDef("Mobile", "phone"),
        FieldDef("Website", "website"),
        _pick("Lead_Source", LEAD_SOURCES),
        _pick("Lead_Status", LEAD_STATUSES),
        _pick("Industry", INDUSTRIES),
        FieldDef("No_of_Employees", "integer"),
        FieldDef("Annual_Revenue", "currency"),
        _pick("Rating", RATINGS),
        FieldDef("Email_Opt_Out", "boolean"),
        FieldDef("Street", "text"),
        FieldDef("City", "text"),
        FieldDef("State", "text"),
        FieldDef("Zip_Code", "text"),
        FieldDef("Country", "text"),
        FieldDef("Description", "textarea"),
        FieldDef("Last_Activity_Time", "datetime", read_only=True),
        FieldDef("Converted__s", "boolean", "Converted", read_only=True),
        FieldDef("Converted_Date_Time", "datetime", read_only=True),
        FieldDef("Converted_Account", "lookup", read_only=True, lookup="Accounts"),
        FieldDef("Converted_Contact", "lookup", read_only=True, lookup="Contacts"),
        FieldDef("Converted_Deal", "lookup", read_only=True, lookup="Deals"),
        *_system_tail(),
        # Custom fields: one of each data type a tap must map.
        FieldDef("Budget", "currency", custom=True),
        FieldDef(
            "Interests",
            "multiselectpicklist",
            custom=True,
            picklist=("Analytics", "CRM", "Email Marketing", "Helpdesk", "Payroll", "Projects"),
        ),
        FieldDef("Preferred_Contact_Date", "date", custom=True),
        FieldDef("Next_Follow_Up", "datetime", custom=True),
        FieldDef("Lead_Score", "integer", custom=True),
        FieldDef("Win_Probability", "percent", custom=True),
        FieldDef("Discount_Rate", "double", "Discount Rate", custom=True),  # Zoho's Decimal
        FieldDef("External_Ref", "bigint", custom=True),
        FieldDef("Lead_Number", "autonumber", custom=True, read_only=True),
        FieldDef("Referred_Account", "lookup", custom=True, lookup="Accounts"),
        FieldDef("Is_VIP", "boolean", "Is VIP", custom=True),
        FieldDef(
            "Lead_Age_Days",
            "formula",
            custom=True,
            read_only=True,
            return_type="double",
        ),
    ),
)

_PERSON_CONTACT = (
    _pick("Salutation", SALUTATIONS),
    FieldDef("First_Name", "text"),
    FieldDef("Last_Name", "text", mandatory=True),
    FieldDef("Full_Name", "text", read_only=True),
)

CONTACTS = ModuleDef(
    "Contacts",
    "Contact",
    "Contacts",
    display_field="Full_Name",
    fields=(
        _owner("Owner", "Contact Owner"),
        *_PERSON_CONTACT,
        FieldDef("Account_Name", "lookup", lookup="Accounts"),
        FieldDef("Email", "email"),
        FieldDef("Secondary_Email", "email"),
        FieldDef("Phone", "phone"),
        FieldDef("Mobile", "phone"),
        FieldDef("Home_Phone", "phone"),
        FieldDef("Department", "text"),
        FieldDef("Title", "text"),
        FieldDef("Date_of_Birth", "date"),
        _pick("Lead_Source", LEAD_SOURCES),
        FieldDef("Email_Opt_Out", "boolean"),
        FieldDef("Mailing_Street", "text"),
        FieldDef("Mailing_City", "text"),
        FieldDef("Mailing_State", "text"),
        FieldDef("Mailing_Zip", "text"),
        FieldDef("Mailing_Country", "text"),
        FieldDef("Description", "textarea"),
        FieldDef("Last_Activity_Time", "datetime", read_only=True),
        *_system_tail(),
        _pick("Loyalty_Tier", ("Bronze", "Silver", "Gold", "Platinum"), custom=True),
        FieldDef(
            "Newsletter_Topics",
            "multiselectpicklist",
            custom=True,
            picklist=("Product News", "Events", "Webinars", "Offers"),
        ),
    ),
)

DEALS = ModuleDef(
    "Deals",
    "Deal",
    "Deals",
    display_field="Deal_Name",
    fields=(
        _owner("Owner", "Deal Owner"),
        FieldDef("Deal_Name", "text", mandatory=True),
        FieldDef("Amount", "currency"),
        _pick("Stage", (*OPEN_STAGES, *CLOSED_STAGES), mandatory=True),
        FieldDef("Closing_Date", "date", mandatory=True),
        FieldDef("Account_Name", "lookup", lookup="Accounts"),
        FieldDef("Contact_Name", "lookup", lookup="Contacts"),
        _pick("Pipeline", ("Standard (Standard)", "Enterprise")),
        _pick("Type", ("-None-", "Existing Business", "New Business")),
        FieldDef("Probability", "percent"),
        FieldDef("Expected_Revenue", "currency", read_only=True),
        _pick("Lead_Source", LEAD_SOURCES),
        FieldDef("Campaign_Source", "lookup", lookup="Campaigns"),
        FieldDef("Next_Step", "text"),
        FieldDef("Description", "textarea"),
        *_system_tail(),
        _pick("Deal_Region", ("AMER", "EMEA", "APAC"), custom=True),
        FieldDef(
            "Competitors",
            "multiselectpicklist",
            custom=True,
            picklist=("Salesforce", "HubSpot", "Pipedrive", "Dynamics"),
        ),
    ),
)

ACCOUNTS = ModuleDef(
    "Accounts",
    "Account",
    "Accounts",
    display_field="Account_Name",
    fields=(
        _owner("Owner", "Account Owner"),
        FieldDef("Account_Name", "text", mandatory=True),
        FieldDef("Account_Number", "bigint"),
        _pick("Account_Type", ("Analyst", "Competitor", "Customer", "Partner", "Prospect")),
        _pick("Industry", INDUSTRIES),
        FieldDef("Annual_Revenue", "currency"),
        FieldDef("Employees", "integer"),
        FieldDef("Phone", "phone"),
        FieldDef("Website", "website"),
        _pick("Ownership", ("Other", "Private", "Public", "Subsidiary")),
        _pick("Rating", RATINGS),
        FieldDef("Parent_Account", "lookup", lookup="Accounts"),
        FieldDef("Billing_Street", "text"),
        FieldDef("Billing_City", "text"),
        FieldDef("Billing_State", "text"),
        FieldDef("Billing_Code", "text"),
        FieldDef("Billing_Country", "text"),
        FieldDef("Description", "textarea"),
        FieldDef("Renewals", "subform", custom=True),
        *_system_tail(),
        FieldDef("Customer_Since", "date", custom=True),
        FieldDef("Health_Score", "double", custom=True),
    ),
)

TASKS = ModuleDef(
    "Tasks",
    "Task",
    "Tasks",
    display_field="Subject",
    fields=(
        _owner("Owner", "Task Owner"),
        FieldDef("Subject", "text", mandatory=True),
        FieldDef("Due_Date", "date"),
        _pick(
            "Status",
            ("Not Started", "Deferred", "In Progress", "Completed", "Waiting for input"),
        ),
        _pick("Priority", ("High", "Highest", "Low", "Lowest", "Normal")),
        FieldDef("Who_Id", "lookup", "Contact Name", lookup="Contacts"),
        FieldDef("What_Id", "lookup", "Related To", lookup="Leads"),
        FieldDef("Send_Notification_Email", "boolean"),
        FieldDef("Closed_Time", "datetime", read_only=True),
        FieldDef("Description", "textarea"),
        *_system_tail(),
    ),
)

CALLS = ModuleDef(
    "Calls",
    "Call",
    "Calls",
    display_field="Subject",
    fields=(
        _owner("Owner", "Call Owner"),
        FieldDef("Subject", "text", mandatory=True),
        _pick("Call_Type", ("Outbound", "Inbound", "Missed")),
        FieldDef("Call_Start_Time", "datetime"),
        FieldDef("Call_Duration", "text"),
        FieldDef("Call_Duration_in_seconds", "integer", read_only=True),
        _pick("Call_Purpose", ("Prospecting", "Administrative", "Negotiation", "Demo")),
        FieldDef("Who_Id", "lookup", "Contact Name", lookup="Contacts"),
        FieldDef("What_Id", "lookup", "Related To", lookup="Leads"),
        FieldDef("Description", "textarea"),
        *_system_tail(),
    ),
)

MEETINGS = ModuleDef(  # Zoho's API name of Meetings is Events
    "Events",
    "Meeting",
    "Meetings",
    display_field="Event_Title",
    fields=(
        _owner("Owner", "Host"),
        FieldDef("Event_Title", "text", mandatory=True),
        FieldDef("Start_DateTime", "datetime", mandatory=True),
        FieldDef("End_DateTime", "datetime", mandatory=True),
        FieldDef("Venue", "text"),
        FieldDef("All_day", "boolean"),
        FieldDef("Who_Id", "lookup", "Contact Name", lookup="Contacts"),
        FieldDef("What_Id", "lookup", "Related To", lookup="Leads"),
        FieldDef("Description", "textarea"),
        *_system_tail(),
    ),
)

CAMPAIGNS = ModuleDef(
    "Campaigns",
    "Campaign",
    "Campaigns",
    display_field="Campaign_Name",
    fields=(
        _owner("Owner", "Campaign Owner"),
        FieldDef("Campaign_Name", "text", mandatory=True),
        _pick("Type", ("Advertisement", "Banner Ads", "Conference", "Email", "Webinar")),
        _pick("Status", ("Planning", "Active", "Inactive", "Complete")),
        FieldDef("Start_Date", "date"),
        FieldDef("End_Date", "date"),
        FieldDef("Expected_Revenue", "currency"),
        FieldDef("Budgeted_Cost", "currency"),
        FieldDef("Actual_Cost", "currency"),
        FieldDef("Expected_Response", "integer"),
        FieldDef("Num_sent", "integer", "Numbers sent"),
        FieldDef("Description", "textarea"),
        *_system_tail(),
    ),
)

PRODUCTS = ModuleDef(
    "Products",
    "Product",
    "Products",
    display_field="Product_Name",
    fields=(
        _owner("Owner", "Product Owner"),
        FieldDef("Product_Name", "text", mandatory=True),
        FieldDef("Product_Code", "text"),
        FieldDef("Product_Active", "boolean"),
        _pick("Product_Category", ("Hardware", "Software", "CRM Applications")),
        FieldDef("Unit_Price", "currency"),
        FieldDef("Qty_in_Stock", "double"),
        FieldDef("Commission_Rate", "currency"),
        FieldDef("Taxable", "boolean"),
        FieldDef("Vendor_Name", "lookup", lookup="Vendors"),
        FieldDef("Description", "textarea"),
        *_system_tail(),
    ),
)

QUOTES = ModuleDef(
    "Quotes",
    "Quote",
    "Quotes",
    display_field="Subject",
    fields=(
        _owner("Owner", "Quote Owner"),
        FieldDef("Subject", "text", mandatory=True),
        _pick("Quote_Stage", ("Draft", "Negotiation", "Delivered", "On Hold", "Confirmed")),
        FieldDef("Valid_Till", "date"),
        FieldDef("Deal_Name", "lookup", lookup="Deals"),
        FieldDef("Account_Name", "lookup", lookup="Accounts", mandatory=True),
        FieldDef("Contact_Name", "lookup", lookup="Contacts"),
        FieldDef("Sub_Total", "currency", read_only=True),
        FieldDef("Discount", "currency"),
        FieldDef("Tax", "currency"),
        FieldDef("Grand_Total", "currency", read_only=True),
        _pick("Carrier", ("FedEX", "UPS", "USPS", "DHL", "BlueDart")),
        FieldDef("Terms_and_Conditions", "textarea"),
        FieldDef("Quoted_Items", "subform", "Quoted Items"),
        *_system_tail(),
    ),
)

VENDORS = ModuleDef(
    "Vendors",
    "Vendor",
    "Vendors",
    display_field="Vendor_Name",
    fields=(
        _owner("Owner", "Vendor Owner"),
        FieldDef("Vendor_Name", "text", mandatory=True),
        FieldDef("Email", "email"),
        FieldDef("Phone", "phone"),
        FieldDef("Website", "website"),
        _pick("GL_Account", ("Sales-Software", "Sales-Hardware", "Rental-Income", "Other")),
        FieldDef("Category", "text"),
        FieldDef("Street", "text"),
        FieldDef("City", "text"),
        FieldDef("State", "text"),
        FieldDef("Zip_Code", "text"),
        FieldDef("Country", "text"),
        FieldDef("Description", "textarea"),
        *_system_tail(),
    ),
)

_ATTRIBUTE_TYPES = ("text", "integer", "double", "date", "boolean", "picklist")


def _project_fields() -> tuple[FieldDef, ...]:
    """Return the 64 fields of the custom module, wider than Zoho's 50-field cap."""
    named = [
        _owner("Owner", "Project Owner"),
        FieldDef("Name", "text", "Project Name", mandatory=True),
        FieldDef("Email", "email"),
        FieldDef("Secondary_Email", "email"),
        FieldDef("Email_Opt_Out", "boolean"),
        FieldDef("Last_Activity_Time", "datetime", read_only=True),
        *_system_tail(),
        _pick("Status", ("Proposed", "Active", "On Hold", "Done", "Cancelled"), custom=True),
        _pick("Priority", ("Low", "Medium", "High", "Critical"), custom=True),
        FieldDef("Start_Date", "date", custom=True),
        FieldDef("End_Date", "date", custom=True),
        FieldDef("Budget", "currency", custom=True),
        FieldDef("Spent", "currency", custom=True),
        FieldDef(
            "Budget_Remaining", "formula", custom=True, read_only=True, return_type="currency"
        ),
        FieldDef("Account", "lookup", custom=True, lookup="Accounts"),
        FieldDef("Sponsor", "lookup", custom=True, lookup="Contacts"),
        FieldDef("Deal", "lookup", custom=True, lookup="Deals"),
        FieldDef(
            "Categories",
            "multiselectpicklist",
            custom=True,
            picklist=("Implementation", "Migration", "Training", "Integration", "Support"),
        ),
        _pick("Region", ("AMER", "EMEA", "APAC", "LATAM"), custom=True),
        FieldDef("Is_Billable", "boolean", custom=True),
        FieldDef("Completion", "percent", custom=True),
        FieldDef("Hours_Estimated", "double", custom=True),
        FieldDef("Hours_Logged", "double", custom=True),
        FieldDef("Risk_Score", "integer", custom=True),
        FieldDef("Project_Code", "autonumber", custom=True, read_only=True),
        FieldDef("Ticket_Ref", "bigint", custom=True),
        FieldDef("Summary", "textarea", custom=True),
        FieldDef("Project_Site", "website", custom=True),
        FieldDef("Hotline", "phone", custom=True),
        FieldDef("Kickoff_At", "datetime", custom=True),
        FieldDef("Exchange_Rate", "double", custom=True),
    ]
    attributes = []
    for n in range(64 - len(named)):
        data_type = _ATTRIBUTE_TYPES[n % len(_ATTRIBUTE_TYPES)]
        picklist = ("Alpha", "Beta", "Gamma", "Delta") if data_type == "picklist" else ()
        attributes.append(
            FieldDef(f"Attribute_{n + 1:02d}", data_type, custom=True, picklist=picklist)
        )
    return (*named, *attributes)


NOTES = ModuleDef(
    "Notes",
    "Note",
    "Notes",
    display_field="Note_Title",
    fields=(
        _owner("Owner", "Note Owner"),
        FieldDef("Note_Title", "text"),
        FieldDef("Note_Content", "textarea", mandatory=True),
        FieldDef("Parent_Id", "lookup", "Parent ID", lookup="Leads"),
        *_system_tail(),
    ),
)

PROJECTS = ModuleDef(
    "Projects",
    "Project",
    "Projects",
    display_field="Name",
    generated_type="custom",
    fields=_project_fields(),
)

_UNSUPPORTED = tuple(
    ModuleDef(name, name.rstrip("s"), name, api_supported=False, generated_type="web")
    for name in ("Home", "Feeds", "Reports", "Dashboards", "Forecasts")
)

#: Every module of the org, in the order /settings/modules lists them.
MODULES: tuple[ModuleDef, ...] = (
    LEADS,
    CONTACTS,
    ACCOUNTS,
    DEALS,
    TASKS,
    MEETINGS,
    CALLS,
    CAMPAIGNS,
    PRODUCTS,
    QUOTES,
    VENDORS,
    NOTES,
    PROJECTS,
    *_UNSUPPORTED,
)

#: Modules Zoho lists as ``api_supported`` whose records endpoint still refuses every call
#: (seen by other connectors), with the error code it answers. Listed by
#: ``/settings/modules`` (see :func:`listed_modules`); no data, no field metadata.
REFUSING_MODULES: dict[str, str] = {
    "CTI_Entry": "INVALID_MODULE",
    "Email_Analytics": "INVALID_MODULE",
    "Email_Template_Analytics": "INVALID_MODULE",
    "Functions__s": "INVALID_MODULE",
    "Email_Sentiment": "INVALID_MODULE",
    "Locking_Information__s": "NO_PERMISSION",
}

_BY_LOWER = {m.api_name.lower(): m for m in MODULES}


def listed_modules() -> list[ModuleDef]:
    """Every module ``/settings/modules`` lists: the org's, then the refusing ones."""
    refusing = [
        ModuleDef(name, name.rstrip("s"), name, generated_type="default")
        for name in REFUSING_MODULES
    ]
    return [*MODULES, *refusing]


def find_module(name: str) -> ModuleDef | None:
    """Return a module by API name, case-insensitively as Zoho matches URL segments."""
    return _BY_LOWER.get(name.lower())


def supported_modules() -> list[ModuleDef]:
    """Return the modules the REST API serves records for."""
    return [m for m in MODULES if m.api_supported]


def parent_field(module: ModuleDef) -> str | None:
    """``What_Id`` (activities) or ``Parent_Id`` (notes): the field naming a record's parent."""
    return next((name for name in PARENT_FIELDS if name in module.by_name), None)
