"""Intersphinx inventories built from the installed packages, for a docs build without network.

``sphinx.ext.intersphinx`` normally downloads each project's ``objects.inv``. The build machines
reach only the package registries, so this writes one inventory per project from the installed
package itself (its public modules, classes, functions and their methods, under both the name a
user imports and the defining module's name). Each entry links to the project's own search page
for that name (``search.html?q=<name>``), which exists for every Sphinx site whatever its page
layout, so a link never points at a guessed page.
"""

import importlib
import inspect
import zlib
from pathlib import Path

# project -> (documentation root, modules whose public names are listed)
PROJECTS = {
    "python": ("https://docs.python.org/3/", ["builtins", "os", "pathlib", "collections.abc"]),
    "numpy": ("https://numpy.org/doc/stable/", ["numpy", "numpy.random"]),
    "torch": (
        "https://pytorch.org/docs/stable/",
        [
            "torch",
            "torch.nn",
            "torch.nn.functional",
            "torch.distributions",
            "torch.optim",
            "torch.optim.lr_scheduler",
            "torch.utils.data",
        ],
    ),
    "pyro": (
        "https://docs.pyro.ai/en/stable/",
        [
            "pyro",
            "pyro.infer",
            "pyro.infer.mcmc",
            "pyro.poutine",
            "pyro.distributions",
            "pyro.nn",
            "pyro.optim",
            "pyro.params",
        ],
    ),
    "arviz": ("https://python.arviz.org/en/stable/", ["arviz"]),
    "matplotlib": ("https://matplotlib.org/stable/", ["matplotlib.figure", "matplotlib.axes"]),
}


def _entries(module_names):
    seen = {}

    def add(name, role):
        seen.setdefault(name, role)

    for module_name in module_names:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        add(module_name, "module")
        for attr in dir(module):
            if attr.startswith("_"):
                continue
            try:
                obj = getattr(module, attr)
            except Exception:  # some lazy attributes raise on access
                continue
            names = [f"{module_name}.{attr}"]
            canonical = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
            if all(isinstance(part, str) for part in canonical):
                names.append(".".join(canonical))
            if inspect.isclass(obj):
                role = "exception" if issubclass(obj, BaseException) else "class"
                for name in names:
                    add(name, role)
                    for member, value in vars(obj).items():
                        if member.startswith("_") and member != "__call__":
                            continue
                        kind = "method" if callable(value) else "attribute"
                        add(f"{name}.{member}", kind)
            elif inspect.ismodule(obj):
                add(obj.__name__, "module")
            elif callable(obj):
                for name in names:
                    add(name, "function")
            else:
                for name in names:
                    add(name, "data")
    if "builtins" in module_names:  # builtins are referenced without the module prefix
        for name, role in list(seen.items()):
            if name.startswith("builtins."):
                add(name[len("builtins.") :], role)
    return seen


def write_inventory(path, project, version, entries):
    lines = [
        f"{name} py:{role} 1 search.html?q={name} -\n" for name, role in sorted(entries.items())
    ]
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    Path(path).write_bytes(header.encode() + zlib.compress("".join(lines).encode()))


def intersphinx_mapping(folder):
    """Write the inventories into ``folder``; the ``intersphinx_mapping`` that reads them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for project, (url, modules) in PROJECTS.items():
        top = importlib.import_module(modules[0].split(".")[0])
        version = getattr(top, "__version__", "")
        path = folder / f"{project}.inv"
        write_inventory(path, project, version, _entries(modules))
        mapping[project] = (url, str(path))
    return mapping
