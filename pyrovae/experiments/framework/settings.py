"""Overriding an experiment's settings from the command line (``--set key=value``, sweeps).

Every experiment keeps its settings per profile in a ``SETTINGS`` dict (``quick`` / ``full``).
An override names one of that profile's keys; its text is parsed to the type of the profile's
value (int, float, bool, str, or a tuple / list written as a Python literal), so a typo or a
wrong type is a ``ValueError`` naming the fields and the expected type, never a silent no-op.

Values are checked in depth against the profile's value, which serves as the template:

* tuple elements: a tuple whose elements share one type (``hidden=(256,)``) takes any number of
  elements of that type; a mixed tuple (``(500, 0.05)``: steps, learning rate) is a record of that
  length, element by element — ``hidden=(8.5,)`` and ``phases=((20,),)`` are refused;
* a count (an int whose default is ≥ 1) must be ≥ 1, an int whose default is 0 must be ≥ 0
  (``n=-3``, ``hidden=(0,)`` are refused);
* a float must be finite (``sigma2=nan``, ``max_gap=inf`` are refused) unless its default is not;
* a ``Config`` field declared with a bound (``lr: float = POSITIVE.field(1e-3)``, see
  :class:`pyrovae.checks.Bound`) must meet it, element by element for tuples
  (``sigma2=-1``, ``lr=0``, ``epsilons=(0.1, -0.1)`` are refused); the listing of the settings in
  an error shows each field's bound.
"""

import ast
import dataclasses
import math

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


def _number(key, value, template):
    """``value`` checked against the number ``template`` (see the module docstring)."""
    if isinstance(template, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{key} is a bool; got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} is a {type(template).__name__}; got {value!r}")
    if isinstance(template, int):
        if not isinstance(value, int):
            raise ValueError(f"{key} is an int; got {value!r}")
        minimum = 1 if template >= 1 else 0
        if template >= 0 and value < minimum:
            kind = "a count (≥ 1)" if minimum else "≥ 0"
            raise ValueError(f"{key} is {kind}; got {value}")
        return value
    value = float(value)
    if math.isfinite(template) and not math.isfinite(value):
        raise ValueError(f"{key} must be a finite number; got {value}")
    return value


def _match(key, value, template):
    """``value`` checked in depth against ``template`` (the profile's value)."""
    if isinstance(template, (tuple, list)):
        if not isinstance(value, (tuple, list)):
            raise ValueError(f"{key} is a {type(template).__name__}; got {value!r}")
        if template:
            kinds = {type(t) for t in template}
            if len(kinds) == 1:  # a sequence of like elements: any length
                value = [_match(f"{key}[{i}]", v, template[0]) for i, v in enumerate(value)]
            else:  # a record: the same length, element by element
                if len(value) != len(template):
                    raise ValueError(
                        f"{key} has {len(template)} elements like {template!r}; got {value!r}"
                    )
                value = [
                    _match(f"{key}[{i}]", v, t)
                    for i, (v, t) in enumerate(zip(value, template, strict=True))
                ]
        return type(template)(value)
    if isinstance(template, (int, float)):
        return _number(key, value, template)
    if isinstance(template, str) and not isinstance(value, str):
        raise ValueError(f"{key} is a str; got {value!r}")
    return value


def parse_value(key, text, current):
    """``text`` as a value of ``current``'s type (``current`` is the profile's value), checked
    in depth (see the module docstring)."""
    return _match(key, _parse(key, text, current), current)


def _parse(key, text, current):
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


def bounds(settings) -> dict:
    """``{field: Bound}`` of the fields of a config dataclass declared with a bound."""
    if not dataclasses.is_dataclass(settings):
        return {}
    return {
        f.name: f.metadata["bound"] for f in dataclasses.fields(settings) if "bound" in f.metadata
    }


def describe_settings(settings, with_values=False) -> list:
    """One entry per setting: ``name (type, bound)`` (and ``= value``), as errors and
    ``pyrovae reproduce NAME --list`` show them."""
    declared = bounds(settings)
    return [
        f"{k} ({type(v).__name__}{', ' + declared[k].text if k in declared else ''})"
        + (f" = {v!r}" if with_values else "")
        for k, v in _as_dict(settings).items()
    ]


def _as_dict(settings):
    if dataclasses.is_dataclass(settings):
        return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    return dict(settings)


def resolve_settings(settings, overrides=None, experiment="this experiment"):
    """``settings`` (one profile's dict, or a frozen config dataclass) with ``overrides``
    applied and type-checked: a new dict, or a new dataclass instance."""
    current = _as_dict(settings)
    unknown = [k for k in (overrides or {}) if k not in current]
    if unknown:
        raise ValueError(
            f"{experiment} has no setting {unknown[0]!r}; its settings are: "
            + ", ".join(describe_settings(settings))
        )
    declared = bounds(settings)
    parsed = {}
    for key, text in (overrides or {}).items():
        parsed[key] = parse_value(key, text, current[key])
        if key in declared:
            declared[key].check(key, parsed[key])
    if dataclasses.is_dataclass(settings):
        return dataclasses.replace(settings, **parsed)
    return {**current, **parsed}
