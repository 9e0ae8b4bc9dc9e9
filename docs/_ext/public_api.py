"""Two checks and one convenience for the API reference.

* Cross-references may name an object where users import it (``pyrovae.infer.train``) although
  it is documented where it is defined (``pyrovae.infer.train.train``): an unresolved ``py``
  reference is imported and retried under its defining module's name.
* A public class or function documented without a docstring is a warning (an error under
  ``-W``): every public name has a docstring.
"""

import importlib

from sphinx.util import logging

logger = logging.getLogger(__name__)


def _import(dotted):
    """The object a dotted name refers to, or ``None``."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _canonical(target):
    obj = _import(target)
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if obj is None or not isinstance(module, str) or not isinstance(qualname, str):
        return None
    name = f"{module}.{qualname}"
    return name if name != target else None


# the object types a role may refer to
_ROLE_TYPES = {
    "func": {"function", "method"},
    "meth": {"method"},
    "class": {"class", "exception"},
    "exc": {"exception", "class"},
    "data": {"data", "attribute"},
    "attr": {"attribute", "data"},
}


def _unique_suffix_match(domain, target, role):
    """The one documented pyrovae object of the role's type whose name ends with ``.target`` (a
    short name used in a docstring of another module, e.g. :func:`hmc` from
    ``pyrovae.posterior.leapfrog``)."""
    types = _ROLE_TYPES.get(role)
    found = [
        name
        for name, entry in domain.objects.items()
        if name.startswith("pyrovae.")
        and name.endswith("." + target)
        and (types is None or entry.objtype in types)
    ]
    return found[0] if len(found) == 1 else None


def _resolve(app, env, node, contnode, target):
    domain = env.get_domain("py")
    for role in (node["reftype"], "obj"):
        found = domain.resolve_xref(env, node["refdoc"], app.builder, role, target, node, contnode)
        if found is not None:
            return found
    return None


def resolve_alias(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    if target.startswith("pyrovae"):
        canonical = _canonical(target)
        if canonical is not None and not _is_private(canonical):
            return _resolve(app, env, node, contnode, canonical)
        if _is_private(canonical or target):
            # a base class from a private module (e.g. ``_objective.VAEObjective``) is named,
            # not linked: private modules are not part of the reference
            return contnode
        return None
    if not target.startswith(("pyrovae", "torch", "pyro", "arviz", "numpy")):
        match = _unique_suffix_match(env.get_domain("py"), target, node["reftype"])
        if match is not None:
            return _resolve(app, env, node, contnode, match)
    return None


def _is_private(name):
    return any(part.startswith("_") for part in name.split("."))


# the functions every experiment module defines for the skeleton: their contract is the
# skeleton's docstring, which an experiment need not repeat
_SKELETON_HOOKS = ("run", "checks", "plot", "summary")


def require_docstring(app, what, name, obj, options, lines):
    if what not in ("class", "function", "exception"):
        return
    if any(part.startswith("_") for part in name.split(".")):
        return
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and name != f"{module}.{qualname}":
        return  # an imported name: checked where it is defined
    if any(line.strip() for line in lines):
        return
    parent, _, short = name.rpartition(".")
    if parent.startswith("pyrovae.experiments.") and short in _SKELETON_HOOKS:
        lines.append(
            f"The experiment's ``{short}`` (the contract is in "
            ":mod:`pyrovae.experiments.framework.skeleton`)."
        )
        return
    logger.warning(f"{name}: public {what} without a docstring", type="pyrovae")


def skip_foreign_members(app, what, name, obj, skip, options):
    """Members a pyrovae class gets from another library (matplotlib's generated ``set`` on a
    Figure subclass) are that library's to document."""
    module = getattr(obj, "__module__", None)
    if what == "class" and isinstance(module, str) and not module.startswith("pyrovae"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", skip_foreign_members)
    app.connect("missing-reference", resolve_alias)
    app.connect("autodoc-process-docstring", require_docstring)
    return {"parallel_read_safe": True}
