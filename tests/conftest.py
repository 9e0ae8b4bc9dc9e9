"""Test fixtures: a clean Pyro state and a fixed seed for every test (as Pyro's own suite)."""

import os
from pathlib import Path

import pyro
import pytest
import torch

SHARED_DATA = Path(
    os.environ.get("PYROVAE_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def pytest_addoption(parser):
    parser.addoption(
        "--runslow", action="store_true", default=False, help="run slow statistical tests"
    )


def pytest_collection_modifyitems(config, items):
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    skip_cuda = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        if "cuda" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_cuda)


@pytest.fixture(autouse=True)
def clean_pyro_state():
    pyro.clear_param_store()
    pyro.enable_validation(True)
    pyro.set_rng_seed(0)
    torch.set_num_threads(2)
    yield
    pyro.clear_param_store()


@pytest.fixture
def shared_data():
    if not (SHARED_DATA / "binarized_mnist.npz").exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
