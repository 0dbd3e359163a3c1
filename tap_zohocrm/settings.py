"""Settings errors in one sentence: which setting, its environment variable, what to do.

singer-sdk's own validation prints each jsonschema error, value included (a client secret of
the wrong type is echoed) and then "Config validation failed". Here every error becomes a
clause naming the setting, never the value of a secret one.
"""

from __future__ import annotations

import typing as t

import jsonschema

__all__ = ["describe_settings_errors"]

_JSON_TYPES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
}


def _kind(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def describe_settings_errors(
    config: t.Mapping[str, t.Any], schema: dict[str, t.Any], env_prefix: str
) -> str | None:
    """One sentence for everything wrong with ``config`` (``None`` when it is valid).

    Args:
        config: The settings.
        schema: The settings' JSON schema (``secret`` properties are never echoed).
        env_prefix: E.g. ``TAP_ZOHOCRM_``.

    Returns:
        The sentence, or None.
    """
    properties = schema.get("properties", {})
    clauses: list[str] = []
    validator = jsonschema.Draft7Validator(schema)
    for error in sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.path)):
        if error.validator == "required":
            missing = [p for p in error.validator_value if p not in (error.instance or {})]
            clauses.extend(
                f"the {name} setting is missing (set it, e.g. as {env_prefix}{name.upper()})"
                for name in missing
            )
            continue
        name = str(error.path[0]) if error.path else "?"
        spec = properties.get(name, {})
        secret = bool(spec.get("secret") or spec.get("writeOnly"))
        env = f"{env_prefix}{name.upper()}"
        if error.validator == "type":
            wanted = error.validator_value
            wanted = [wanted] if isinstance(wanted, str) else list(wanted)
            text = " or ".join(_JSON_TYPES.get(w, w) for w in wanted if w != "null")
            clauses.append(
                f"the {name} setting must be {text}, not {_kind(error.instance)} "
                f"(check {env} or the config file)"
            )
        elif error.validator == "enum":
            shown = "its value" if secret else repr(error.instance)
            allowed = ", ".join(str(v) for v in error.validator_value)
            clauses.append(f"the {name} setting {shown} is not one of {allowed} ({env})")
        else:
            clauses.append(f"the {name} setting fails its {error.validator!r} rule ({env})")
    if not clauses:
        return None
    text = "; ".join(dict.fromkeys(clauses))
    return f"{text[0].upper()}{text[1:]}."
