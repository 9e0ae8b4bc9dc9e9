"""Finding data files: an explicit path, else the folder in ``$PYROVAE_DATA``."""

import os
from collections.abc import Sequence

DATA_ENV = "PYROVAE_DATA"


def resolve_data_file(path: str | None, candidates: Sequence[str], what: str) -> str:
    """Return an existing file for ``what``.

    ``path`` may be the file itself or a folder holding one of ``candidates`` (relative names);
    with ``path=None`` the folder in ``$PYROVAE_DATA`` is searched.
    """
    folders = []
    if path is not None:
        path = os.path.expanduser(os.fspath(path))
        if os.path.isfile(path):
            return path
        if not os.path.isdir(path):
            raise FileNotFoundError(
                f"{what}: no such file or folder {path!r}; expected {' or '.join(candidates)}"
            )
        folders.append(path)
    elif os.environ.get(DATA_ENV):
        folders.append(os.path.expanduser(os.environ[DATA_ENV]))
    for folder in folders:
        for name in candidates:
            full = os.path.join(folder, name)
            if os.path.isfile(full):
                return full
    where = f"in {folders[0]!r}" if folders else f"(no path given and ${DATA_ENV} is not set)"
    raise FileNotFoundError(
        f"{what}: could not find {' or '.join(candidates)} {where}. pyrovae never downloads data: "
        f"pass the file's path (--data PATH) or set {DATA_ENV} to the folder holding it."
    )
