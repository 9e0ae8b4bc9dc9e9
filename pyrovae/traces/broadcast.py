"""A clear message when a model's code cannot broadcast over a leading particle dimension.

Vectorized estimators run the model once under a particle plate: every tensor gains a leading
dimension of P particles (or chains). Code that flattens with ``view(-1, 784)``, picks elements by
boolean indexing, or assumes ``x.dim() == 2`` fails there, deep inside the user's model. When the
vectorized pass fails and the same pass with one particle succeeds, the failure is the model's
broadcasting, and :func:`explain_broadcast_failure` says so and names the non-vectorized path.
"""

__all__ = ["explain_broadcast_failure"]

_USER_CODE_ERRORS = (RuntimeError, ValueError, IndexError, TypeError)


def explain_broadcast_failure(run_vectorized, run_single, what: str, fix: str):
    """``run_vectorized()``; if it raises and ``run_single()`` (the same pass without a particle
    plate) does not, a ``ValueError`` naming ``fix`` replaces the error (chained to it)."""
    try:
        return run_vectorized()
    except _USER_CODE_ERRORS as err:
        try:
            run_single()
        except Exception:
            raise err from None
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{what} runs the model and guide once for all particles, under a leading particle "
            f"dimension, and that pass failed inside them ({type(err).__name__}: {first_line}), "
            "while one particle at a time works: the model's code does not broadcast over "
            "leading dimensions (boolean indexing, view(-1, ...), x.dim() checks). Write it with "
            "reshape(*x.shape[:-1], ...) / masks, or use the loop over particles: "
            f"{fix} (slower, same estimate)."
        ) from err
