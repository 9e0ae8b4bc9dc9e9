"""Progress bars: tqdm's notebook bar where Jupyter widgets are installed, its text bar
elsewhere — without the warning tqdm prints at import in a notebook that lacks ``ipywidgets``
(the text bar it falls back to works; the warning only alarmed readers of the tutorials)."""

import warnings

from tqdm import TqdmWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm

__all__ = ["tqdm"]
