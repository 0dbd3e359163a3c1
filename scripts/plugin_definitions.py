"""Meltano plugin definitions, generated from the plugins' own ``--about --format=json``.

Writes the Hub-format files under ``plugins/`` (for ``meltano add --from-ref``) and the
plugin blocks of this repository's ``meltano.yml`` from one source: the settings, kinds,
defaults and capabilities each plugin reports, plus the few facts ``--about`` cannot know
(labels, commands, selection, pip_url). ``--check`` fails, listing the files, when any is
out of date; the tests run it.

    python scripts/plugin_definitions.py          # rewrite
    python scripts/plugin_definitions.py --check  # verify
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import typing as t
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REPO_URL = "https://github.com/zoho-crm-connectors/tap-zohocrm"
SETTINGS_SCHEMA = "settings_schema.json"

#: What --about cannot say, per plugin.
PLUGINS: dict[str, dict[str, t.Any]] = {
    "tap-zohocrm": {
        "type": "extractors",
        "namespace": "tap_zohocrm",
        "label": "Zoho CRM",
        "description": "Zoho CRM modules, custom fields, relations and deletions, incremental",
        "logo_url": None,
        "settings_group_validation": [
            ["client_id", "client_secret", "refresh_token"],
            ["client_id", "client_secret", "soid"],
        ],
        "select": ["leads.*", "contacts.*", "deals.*", "users.*"],
        "commands": {
            "auth": {
                "args": "auth",
                "description": (
                    "Exchange a Self Client grant code for a verified refresh token "
                    "(prompts; --write-env writes .env with mode 0600)."
                ),
            }
        },
    },
    "target-sqlite-audit": {
        "type": "loaders",
        "namespace": "target_sqlite_audit",
        "label": "SQLite audit trail",
        "description": "SQLite with change-detected upserts, a history row per change, a sync log",
        "dialect": "sqlite",
        "commands": {
            "report": {
                "args": "report",
                "description": "The recent syncs, counts per stream and tables (redacted).",
            }
        },
    },
    "zoho-crm-insights": {
        "type": "utilities",
        "namespace": "zoho_crm_insights",
        "label": "Zoho CRM insights",
        "description": "A CRM team's KPIs from a target-sqlite-audit database, as a page",
        "commands": {
            "page": {
                "args": "--database output/demo.sqlite --html output/insights.html",
                "description": "The KPIs of the demo's audit file, printed and as a page.",
            }
        },
    },
}


#: Labels of option values (others show the value).
OPTION_LABELS = {
    "refresh_token": "Refresh token", "client_credentials": "Client credentials",
    "us": "United States", "eu": "Europe", "in": "India", "au": "Australia", "jp": "Japan",
    "ca": "Canada", "cn": "China", "sa": "Saudi Arabia", "uk": "United Kingdom",
    "production": "Production", "sandbox": "Sandbox", "developer": "Developer",
    "keyset": "Keyset", "page_token": "Page token", "auto": "Automatic",
    "bulk": "Bulk Read", "rest": "Get Records (REST)",
}  # fmt: skip


def about(executable: str) -> dict[str, t.Any]:
    """The plugin's ``--about --format=json``."""
    out = subprocess.run(
        [str(BIN / executable), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return t.cast("dict[str, t.Any]", json.loads(out))


def setting(name: str, schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """One Meltano setting from its JSON Schema."""
    types = schema.get("type") or []
    types = [types] if isinstance(types, str) else [x for x in types if x != "null"]
    kinds = {"integer": "integer", "number": "decimal", "boolean": "boolean",
             "object": "object", "array": "array"}  # fmt: skip
    kind = kinds.get(types[0] if types else "", "string")
    out: dict[str, t.Any] = {"name": name, "label": schema.get("title") or name}
    if "enum" in schema:
        kind = "options"
        out["options"] = [
            {"label": OPTION_LABELS.get(str(v), str(v)), "value": v}
            for v in schema["enum"]
            if v is not None
        ]
    elif schema.get("format") in ("date-time", "date"):
        kind = "date_iso8601"
    out["kind"] = kind
    if schema.get("description"):
        out["description"] = " ".join(str(schema["description"]).split())
    if schema.get("secret"):
        out["sensitive"] = True
    if schema.get("default") is not None:
        out["value"] = schema["default"]
    return out


def hub_definition(name: str) -> dict[str, t.Any]:
    """A plugin's definition in Meltano Hub format."""
    extra = PLUGINS[name]
    executable = name
    facts = about(executable) if extra["type"] != "utilities" else None
    definition: dict[str, t.Any] = {
        "name": name,
        "namespace": extra["namespace"],
        "variant": "zoho-crm-connectors",
        "label": extra["label"],
        "description": extra["description"],
        "repo": REPO_URL,
        "pip_url": "tap-zohocrm",
        "executable": executable,
        "keywords": ["meltano_sdk"] if facts else ["zoho", "insights"],
    }
    if "dialect" in extra:
        definition["dialect"] = extra["dialect"]
    if facts:
        definition["capabilities"] = facts["capabilities"]
        properties = facts["settings"]["properties"]
        definition["settings"] = [setting(key, schema) for key, schema in properties.items()]
    for key in ("settings_group_validation", "select", "commands"):
        if key in extra:
            definition[key] = extra[key]
    return definition


def _yaml() -> YAML:
    yaml = YAML()
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def render(data: t.Any) -> str:
    """YAML text of a definition."""
    buffer = io.StringIO()
    _yaml().dump(data, buffer)
    return buffer.getvalue()


def project_file(definitions: dict[str, dict[str, t.Any]]) -> str:
    """``meltano.yml`` with its three plugin blocks taken from the definitions."""
    yaml = YAML()  # round trip: comments and the rest of the project stay as they are
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    path = ROOT / "meltano.yml"
    project = yaml.load(path.read_text())
    for name, definition in definitions.items():
        kind = PLUGINS[name]["type"]
        entries = project["plugins"][kind]
        block = next(entry for entry in entries if entry["name"] == name)
        for key, value in definition.items():
            if key in ("name", "variant", "repo", "keywords", "label", "description"):
                continue
            block[key] = value
        block["pip_url"] = "-e ."  # this repository's own code
        for key in [k for k in block if k not in definition and k != "pip_url"]:
            del block[key]
    buffer = io.StringIO()
    yaml.dump(project, buffer)
    return buffer.getvalue()


def main(argv: t.Sequence[str] | None = None) -> int:
    """Rewrite (or with ``--check`` verify) the definitions and meltano.yml."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args(argv)
    definitions = {name: hub_definition(name) for name in PLUGINS}
    wanted = {
        ROOT / "plugins" / PLUGINS[name]["type"] / f"{name}.yml": render(definition)
        for name, definition in definitions.items()
    }
    wanted[ROOT / "meltano.yml"] = project_file(definitions)
    # The tap checks its settings against this copy before it can import singer-sdk
    # (tap_zohocrm/early_token.py).
    settings = about("tap-zohocrm")["settings"]
    wanted[ROOT / "tap_zohocrm" / SETTINGS_SCHEMA] = json.dumps(settings, indent=1) + "\n"
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} differs from the plugins' --about; run make plugins")
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
