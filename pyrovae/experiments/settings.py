"""Overriding an experiment's settings from the command line (``--set key=value``, sweeps).

Every experiment keeps its settings per profile in a ``SETTINGS`` dict (``quick`` / ``full``).
An override names one of that profile's keys; its text is parsed to the type of the profile's
value (int, float, bool, str, or a tuple / list written as a Python literal), so a typo or a
wrong type is a ``ValueError`` naming the fields and the expected type, never a silent no-op.
"""

import ast
import dataclasses

TRUE, FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


def parse_assignments(items, what="--set") -> dict:
    """``["key=value", ...]`` -> ``{key: "value"}``; a later key wins only if it is not repeated
    (a repeated key is an error: which one was meant?)."""
    out = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{what} expects key=value, got {item!r}")
        if key in out:
            raise ValueError(f"{what} gives {key!r} twice")
        out[key] = value.strip()
    return out


def _literal(text, key):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ValueError(
            f"{key}={text!r} is not a Python literal; write e.g. {key}='(1, 2)' or {key}=0.5"
        ) from None


def parse_value(key, text, current):
    """``text`` as a value of ``current``'s type (``current`` is the profile's value)."""
    if not isinstance(text, str):
        value = text
    elif isinstance(current, bool):
        low = text.lower()
        if low not in TRUE | FALSE:
            raise ValueError(f"{key} is a bool; give true or false, got {text!r}")
        return low in TRUE
    elif isinstance(current, int):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{key} is an int; got {text!r}") from None
    elif isinstance(current, float):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{key} is a float; got {text!r}") from None
    elif isinstance(current, str) or current is None:
        return text
    else:
        value = _literal(text, key)
    if isinstance(current, (tuple, list)):
        if not isinstance(value, (tuple, list)):
            raise ValueError(f"{key} is a {type(current).__name__}; got {text!r}")
        return type(current)(value)
    if isinstance(current, bool) and not isinstance(value, bool):
        raise ValueError(f"{key} is a bool; got {value!r}")
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key} is a {type(current).__name__}; got {value!r}")
        return type(current)(value)
    if isinstance(current, dict) and not isinstance(value, dict):
        raise ValueError(f"{key} is a dict; got {text!r}")
    return value


def resolve_settings(settings, overrides=None, experiment="this experiment"):
    """``settings`` (one profile's dict, or a frozen config dataclass) with ``overrides``
    applied and type-checked: a new dict, or a new dataclass instance."""
    if dataclasses.is_dataclass(settings):
        current = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    else:
        current = dict(settings)
    unknown = [k for k in (overrides or {}) if k not in current]
    if unknown:
        raise ValueError(
            f"{experiment} has no setting {unknown[0]!r}; its settings are: "
            + ", ".join(f"{k} ({type(v).__name__})" for k, v in current.items())
        )
    parsed = {key: parse_value(key, text, current[key]) for key, text in (overrides or {}).items()}
    if dataclasses.is_dataclass(settings):
        return dataclasses.replace(settings, **parsed)
    return {**current, **parsed}
