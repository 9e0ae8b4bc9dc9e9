"""The package's structure: only Pyro's public API (no private message fields, modules or
torch module internals), and module-level imports inside pyrovae without a cycle."""

import ast
import pathlib
import re

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "pyrovae"
SOURCES = sorted(PACKAGE.rglob("*.py"))

# what a module reaching into Pyro's or torch's internals writes
PRIVATE = {
    "Pyro's runtime stack": re.compile(r"am_i_wrapped|_PYRO_STACK|poutine\.runtime"),
    "a hand-built plate frame": re.compile(r"CondIndepStackFrame|indep_messenger"),
    "Pyro's private message fields": re.compile(r"""["'](done|stop|continuation)["']\s*[:\]=]"""),
    "nn.Module internals": re.compile(r"\._parameters\b|\._modules\b|\._buffers\b"),
    "a private Pyro module or name": re.compile(r"from pyro[\w.]*\._|from pyro[\w.]* import _"),
}


def test_sources_were_found():
    assert len(SOURCES) > 50


@pytest.mark.parametrize("what, pattern", list(PRIVATE.items()), ids=list(PRIVATE))
def test_no_module_touches_pyro_or_torch_internals(what, pattern):
    hits = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path in SOURCES
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, f"{what}:\n" + "\n".join(hits)


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path):
    """pyrovae modules imported by ``path``, at module level or inside functions (a lazy import
    hides a cycle from Python but not from a reader)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("pyrovae"):
                found.add(target)
                for alias in node.names:  # "from . import x" may name a submodule
                    found.add(f"{target}.{alias.name}")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pyrovae"))
    return found


def test_imports_have_no_cycle():
    modules = {_module_name(p): p for p in SOURCES}
    graph = {
        name: {t for t in _top_level_imports(path) if t in modules and t != name}
        for name, path in modules.items()
    }
    # a package's __init__ importing its own submodules is the usual layout, not a cycle
    edges = {
        name: {
            t
            for t in targets
            if not (t.startswith(name + ".") and modules[name].name == "__init__.py")
        }
        for name, targets in graph.items()
    }
    state, cycle = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycle.extend(stack[stack.index(nxt) :] + [nxt] if nxt in stack else [node, nxt])
                return True
            if nxt not in state and visit(nxt, stack + [nxt]):
                return True
        state[node] = "done"
        return False

    for name in sorted(edges):
        if name not in state and visit(name, [name]):
            break
    assert not cycle, " -> ".join(cycle)
