"""Sphinx configuration of pyrovae's documentation.

Build: ``python -m sphinx -b html docs docs/_build/html``.

Builds offline: intersphinx reads inventories written from the installed packages
(``_ext/offline_inventories.py``); tutorials are rendered from the outputs stored in the
notebooks (myst-nb, never executed here).
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import api_pages  # noqa: E402
import offline_inventories  # noqa: E402

import pyrovae  # noqa: E402

project = "pyrovae"
author = "the pyrovae developers"
copyright = "2026, the pyrovae developers"
release = version = pyrovae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "myst_nb",
    "public_api",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "_ext", "**.ipynb_checkpoints"]

# the API reference: one page per public module, generated from the docstrings
# deprecated aliases (pyrovae.arguments, pyrovae.infer.beta_vae) point at their new homes
api_pages.write_pages(
    HERE / "api" / "generated", skip=("pyrovae.arguments", "pyrovae.infer.beta_vae")
)
autodoc_inherit_docstrings = False  # torch's own docstrings are torch's documentation
autodoc_default_options = {"member-order": "bysource", "undoc-members": True}
autodoc_typehints = "none"  # the docstrings name the types; signatures stay readable
autodoc_class_signature = "separated"
napoleon_use_rtype = False
add_module_names = False

intersphinx_mapping = offline_inventories.intersphinx_mapping(HERE / "_build" / "inventories")

# tutorials: stored outputs, never executed while building
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

nitpicky = True
suppress_warnings = ["myst.header"]

html_theme = "furo"
html_title = f"pyrovae {release}"
html_static_path = []
