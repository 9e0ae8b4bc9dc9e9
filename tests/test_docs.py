"""The documentation's examples run, and the README stays a front page.

Every ```python block of README.md and of the Markdown pages under docs/ is executed, the blocks
of one file in order in one namespace (a page's later blocks use its earlier ones). A block that
cannot run on its own says why in an HTML comment on the line before it
(``<!-- not run: needs a trained VAE; ... -->``, invisible on the rendered page); that list is
checked too, so nothing is skipped silently.
"""

import os
import re
from pathlib import Path

import pytest
from conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted(
    p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts
)
NOT_RUN = re.compile(r"<!-- not run: (.+?) -->")


def python_blocks(path):
    """``(line, code, reason_not_run)`` of every ```python block in a Markdown file."""
    lines = path.read_text().split("\n")
    blocks, i = [], 0
    while i < len(lines):
        opening = re.match(r"^(\s*)```python\s*$", lines[i])
        if not opening:
            i += 1
            continue
        indent, start = len(opening.group(1)), i
        body = []
        i += 1
        while not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][indent:])
            i += 1
        before = lines[start - 1] if start else ""
        reason = NOT_RUN.search(before)
        blocks.append((start + 1, "\n".join(body), reason.group(1) if reason else None))
        i += 1
    return blocks


RUNNABLE = [p for p in PAGES if any(r is None for _, _, r in python_blocks(p))]


def test_every_not_run_block_says_why_and_the_rest_exist():
    skipped = [
        (p.relative_to(ROOT), line, reason)
        for p in PAGES
        for line, _, reason in python_blocks(p)
        if reason is not None
    ]
    assert all(len(reason) > 10 for _, _, reason in skipped), skipped
    assert RUNNABLE, "no runnable example found: the block extractor is broken"


@pytest.mark.parametrize("path", RUNNABLE, ids=[str(p.relative_to(ROOT)) for p in RUNNABLE])
def test_examples_run(path, tmp_path, monkeypatch):
    blocks = [(line, code) for line, code, reason in python_blocks(path) if reason is None]
    if any("PYROVAE_DATA" in code for _, code in blocks):
        if not (SHARED_DATA / "binarized_mnist.npz").exists():
            pytest.skip(f"needs {SHARED_DATA / 'binarized_mnist.npz'}")
        monkeypatch.setenv("PYROVAE_DATA", str(SHARED_DATA))
    monkeypatch.chdir(tmp_path)  # an example that writes files writes them here
    namespace = {"__name__": f"example_{path.stem}"}
    for line, code in blocks:
        try:
            exec(compile(code, f"{path.relative_to(ROOT)}:{line}", "exec"), namespace)
        except Exception as err:
            raise AssertionError(
                f"the example at {path.relative_to(ROOT)}:{line} fails: {err!r}"
            ) from err


def test_readme_is_a_front_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.split("\n")) <= 200
    # every docs page the README points at exists
    for target in re.findall(r"\]\((docs/[^)#]+)\)", readme):
        assert (ROOT / target).exists(), target
    assert os.path.exists(ROOT / "tools" / "setup.sh")
