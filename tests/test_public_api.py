"""Every exported name imports, every ``__all__`` is sorted, and old names warn."""

import importlib
import pkgutil

import pytest

import pyrovae

PACKAGES = sorted(
    name for _, name, is_pkg in pkgutil.walk_packages(pyrovae.__path__, "pyrovae.") if is_pkg
)


def _isort_key(name):
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_imports(package):
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    if exported is None:
        pytest.skip(f"{package} exports nothing")
    assert exported == sorted(exported, key=_isort_key), f"{package}.__all__ is not sorted"
    for name in exported:
        assert getattr(module, name) is not None, f"{package}.{name}"


def test_pyrovae_objectives_do_not_shadow_pyro_names():
    import pyro.infer

    import pyrovae.infer

    assert not set(pyrovae.infer.__all__) & set(dir(pyro.infer))


def test_old_names_are_deprecated_aliases():
    import pyrovae.infer

    synthetic = importlib.import_module("pyrovae.data.synthetic")  # pyrovae.data.synthetic is
    # also a function name in pyrovae.data

    with pytest.warns(DeprecationWarning, match="EvidenceLowerBound"):
        old = pyrovae.infer.ELBO
    with pytest.warns(DeprecationWarning, match="EvidenceLowerBound"):
        objective = old()
    assert isinstance(objective, pyrovae.infer.EvidenceLowerBound)
    with pytest.warns(DeprecationWarning, match="SYNTHETIC_DATASETS"):
        assert synthetic.DATASETS is synthetic.SYNTHETIC_DATASETS
