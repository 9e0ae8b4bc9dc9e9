"""The API reference pages, one per public module of pyrovae, written before the build reads
its sources.

``autosummary``'s recursive mode cannot be used: a subpackage that re-exports a function under
its module's name (``pyrovae.posterior.ais`` is both a module and the function it defines)
makes it document the function in place of the module. ``automodule`` imports modules by name,
so each page is one ``automodule`` directive; a package's page lists its modules.
"""

import importlib
import pkgutil
from pathlib import Path


def public_modules(package="pyrovae"):
    """``(name, is_package)`` of every module whose dotted name has no part starting with _."""
    root = importlib.import_module(package)
    found = [(package, True)]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            found.append((info.name, info.ispkg))
    return sorted(found)


def _page(name, is_package, children):
    title = f"``{name}``"
    lines = [title, "=" * len(title), "", f".. automodule:: {name}"]
    if is_package:
        lines += ["   :no-members:", ""]
        if children:
            lines += [".. toctree::", "   :maxdepth: 1", ""]
            lines += [f"   {child}" for child in children]
    else:
        lines += ["   :members:", "   :show-inheritance:"]
    return "\n".join(lines) + "\n"


def write_pages(folder, package="pyrovae", skip=()):
    """Write ``<module>.rst`` for every public module into ``folder`` (only files whose text
    changed, so incremental builds stay incremental); returns the top page's name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    modules = [(n, p) for n, p in public_modules(package) if n not in skip]
    names = {n for n, _ in modules}
    for name, is_package in modules:
        children = [
            child for child in sorted(names) if child.rsplit(".", 1)[0] == name and child != name
        ]
        text = _page(name, is_package, children)
        path = folder / f"{name}.rst"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    for stale in folder.glob("*.rst"):
        if stale.stem not in names:
            stale.unlink()
    return package
