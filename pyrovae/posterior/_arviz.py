"""arviz, imported once with its refactor announcement (a FutureWarning on import) silenced."""

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz  # noqa: F401
