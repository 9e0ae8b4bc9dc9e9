"""Store the tutorials' outputs, and check what is stored.

The docs render each notebook in ``tutorials/`` from the outputs stored in it (never executed at
build time). Those outputs must come from the notebook's code as committed, at its full
settings, and must be clean:

* ``python tools/tutorial_outputs.py execute [NAME ...]`` runs each notebook top to bottom at its
  full settings (no ``CI`` in the environment; ``PYROVAE_DATA`` names the data folder, default
  ``../shared/data``), replaces absolute paths of this machine in the outputs, and writes the
  notebook with its outputs and ``metadata.pyrovae``: the SHA-256 of its code cells, the library
  versions and the wall time;
* ``python tools/tutorial_outputs.py check`` (and ``tests/test_tutorials.py``) refuses a
  notebook whose code changed since its outputs were stored, whose outputs hold a path of the
  machine that ran it, an error, or an output above ``MAX_OUTPUT_BYTES``.
"""

import argparse
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
MAX_OUTPUT_BYTES = 400_000  # one PNG figure at the default dpi is ~20-80 kB
MACHINE_PATHS = ("/work/", "/home/", "/tmp/", "/Users/", "C:\\")


def code_digest(nb) -> str:
    """SHA-256 of the notebook's code cells, in order (what the outputs were computed from)."""
    h = hashlib.sha256()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            source = cell["source"]
            h.update(("".join(source) if isinstance(source, list) else source).encode())
            h.update(b"\0")
    return h.hexdigest()


def problems(path) -> list[str]:
    """What is wrong with a notebook's stored outputs (empty when nothing is)."""
    nb = json.loads(Path(path).read_text())
    found = []
    stored = nb.get("metadata", {}).get("pyrovae", {})
    if stored.get("code_sha256") != code_digest(nb):
        found.append(
            "its code changed since its outputs were stored (or they never were): run "
            f"python tools/tutorial_outputs.py execute {Path(path).stem}"
        )
    for index, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            text = json.dumps(output)
            if output.get("output_type") == "error":
                found.append(f"cell {index}: an error is stored ({output.get('ename')})")
            if len(text) > MAX_OUTPUT_BYTES:
                found.append(f"cell {index}: an output of {len(text)} bytes (> {MAX_OUTPUT_BYTES})")
            for prefix in MACHINE_PATHS:
                if prefix in text:
                    found.append(f"cell {index}: an output holds a machine path ({prefix}...)")
                    break
    return found


# the file name IPython gives a cell in a warning's location
KERNEL_CELL = re.compile(r"/tmp/ipykernel_\d+/\d+\.py")


def _clean_text(text, replacements):
    for old, new in replacements:
        text = text.replace(old, new)
    return KERNEL_CELL.sub("<cell>", text)


def _collapse_carriage_returns(text):
    """What a terminal shows of ``text``: of each line rewritten with ``\\r`` (a progress bar),
    its last state."""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def merge_streams(nb):
    """Consecutive stdout / stderr outputs of a cell joined into one, progress-bar redraws
    collapsed to their last state (a rendered page shows them as a terminal would)."""
    for cell in nb.cells:
        merged = []
        for output in cell.get("outputs", []):
            previous = merged[-1] if merged else None
            if (
                output.get("output_type") == "stream"
                and previous is not None
                and previous.get("output_type") == "stream"
                and previous.get("name") == output.get("name")
            ):
                previous["text"] += output["text"]
            else:
                merged.append(output)
        for output in merged:
            if output.get("output_type") == "stream":
                output["text"] = _collapse_carriage_returns(output["text"])
        if "outputs" in cell:
            cell["outputs"] = merged


def clean_paths(nb, replacements):
    """Replace this machine's paths in the stored text outputs (``replacements``: (old, new)
    pairs; a warning's kernel cell file becomes ``<cell>``)."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if isinstance(output.get("text"), str):
                output["text"] = _clean_text(output["text"], replacements)
            if output.get("output_type") == "error":
                output["traceback"] = [_clean_text(t, replacements) for t in output["traceback"]]
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/") and isinstance(value, str):
                    output["data"][mime] = _clean_text(value, replacements)


def execute(names, timeout=3600):
    import nbclient
    import nbformat

    import pyrovae
    from pyrovae.provenance import versions

    env_data = os.environ.get("PYROVAE_DATA") or str((ROOT.parent / "shared" / "data").resolve())
    os.environ.pop("CI", None)
    os.environ["PYROVAE_DATA"] = env_data
    paths = [TUTORIALS / f"{n}.ipynb" for n in names] or sorted(TUTORIALS.glob("*.ipynb"))
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        start = time.time()
        workdir = ROOT / "runs" / "tutorials" / path.stem
        workdir.mkdir(parents=True, exist_ok=True)
        resources = {"metadata": {"path": str(workdir)}}
        client = nbclient.NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources=resources
        )
        client.execute()
        seconds = time.time() - start
        merge_streams(nb)
        clean_paths(
            nb,
            [(env_data, "<data>"), (str(workdir), "<workdir>"), (str(ROOT), "<repository>")],
        )
        nb.metadata["pyrovae"] = {
            "code_sha256": code_digest(nb),
            "versions": versions(),
            "pyrovae": pyrovae.__version__,
            "executed_seconds": round(seconds, 1),
            "settings": "full (CI unset)",
        }
        tmp = path.with_suffix(".ipynb.part")
        nbformat.write(nb, tmp)
        os.replace(tmp, path)
        left = problems(path)
        print(f"{path.name}: {seconds:.0f} s" + (f"; PROBLEMS: {left}" if left else ""))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("execute", help="run notebooks at full settings, store their outputs")
    run.add_argument("names", nargs="*", help="notebook names without .ipynb (default: all)")
    sub.add_parser("check", help="refuse stale, dirty or failed stored outputs")
    args = parser.parse_args(argv)
    if args.command == "execute":
        execute(args.names)
        return 0
    bad = {p.name: problems(p) for p in sorted(TUTORIALS.glob("*.ipynb"))}
    for name, found in bad.items():
        for problem in found:
            print(f"{name}: {problem}")
    return 1 if any(bad.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
