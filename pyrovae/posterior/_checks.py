"""Resource warnings shared by the reference posteriors."""

import warnings

LARGE_BYTES = 1 << 30


def warn_if_large(num_bytes: int, what: str, knob: str):
    """A ``ResourceWarning`` when a result would hold more than 1 GiB."""
    if num_bytes > LARGE_BYTES:
        warnings.warn(
            f"{what} will hold about {num_bytes / 2**30:.1f} GiB in memory; reduce the {knob} "
            "(or pass fewer data points per call)",
            ResourceWarning,
            stacklevel=3,
        )
