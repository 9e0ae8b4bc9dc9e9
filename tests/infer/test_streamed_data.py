"""train on data read batch by batch (pyrovae.infer.streamed): map-style and iterable data sets,
DataLoaders with workers, per-batch transforms, validation, and resume that continues bitwise."""

import pyro
import pyro.distributions as dist
import pytest
import torch
from helpers import binary_data, small_vae
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from pyrovae.data import Binarize
from pyrovae.infer import train
from pyrovae.models import data_plate


def _fit(data, steps=6, **options):
    torch.manual_seed(0)
    vae = small_vae()
    options = {"steps": steps, "batch_size": 8, "progress": False, **options}
    result = train(vae.model, vae.guide, data, **options)
    return result, vae


class Rows(Dataset):
    """A map-style data set that reads one row at a time (as a memmap or files would)."""

    def __init__(self, x):
        self.x = x

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


class Stream(IterableDataset):
    """An iterable data set without a length, the same rows on every pass."""

    def __init__(self, x):
        self.x = x

    def __iter__(self):
        return iter(self.x)


def test_a_dataset_trains_bitwise_like_its_tensor_with_or_without_workers():
    x = binary_data(n=40)
    reference = _fit(x)[0].history
    assert _fit(Rows(x))[0].history == reference
    assert _fit(TensorDataset(x))[0].history == reference
    assert _fit(Rows(x), num_workers=2)[0].history == reference
    with pytest.warns(UserWarning, match="batch_size=4 and sampler are not used"):
        assert _fit(DataLoader(Rows(x), batch_size=4, num_workers=1))[0].history == reference


def test_an_iterable_dataset_needs_num_data_and_cycles_its_passes():
    x = binary_data(n=40)
    with pytest.raises(ValueError, match="num_data=N"):
        _fit(Stream(x))
    result, _ = _fit(Stream(x), steps=12, num_data=40)  # 5 batches per pass: 2.4 passes
    assert len(result.history) == 12 and all(r["loss"] == r["loss"] for r in result.history)
    again, _ = _fit(Stream(x), steps=12, num_data=40)
    assert again.history == result.history  # deterministic
    with pytest.raises(ValueError, match="num_data=30 but the data set holds 40"):
        _fit(Rows(x), num_data=30)
    with pytest.raises(ValueError, match="num_data is for a data set read batch by batch"):
        _fit(x, num_data=40)


def test_items_become_the_models_arguments():
    x = binary_data(n=32)
    with pytest.raises(ValueError, match=r"transform=lambda batch: batch\[0\]"):
        _fit(TensorDataset(x, torch.arange(32)))  # (image, label) into model(x)
    kept = _fit(TensorDataset(x, torch.arange(32)), transform=lambda batch: batch[0])[0]
    assert kept.history == _fit(x)[0].history

    class Dicts(Dataset):
        def __len__(self):
            return 32

        def __getitem__(self, i):
            return {"pixels": x[i]}

    def pair():  # a model and guide taking the keyword argument ``pixels``
        torch.manual_seed(0)
        decoder, encoder = torch.nn.Linear(2, 12), torch.nn.Linear(12, 4)

        def model(pixels):
            pyro.module("dec", decoder)
            with data_plate(pixels, None):
                z = pyro.sample("z", dist.Normal(pixels.new_zeros(len(pixels), 2), 1.0).to_event(1))
                pyro.sample("x", dist.Bernoulli(logits=decoder(z)).to_event(1), obs=pixels)

        def guide(pixels):
            pyro.module("enc", encoder)
            with data_plate(pixels, None):
                loc, raw = encoder(pixels).chunk(2, -1)
                pyro.sample("z", dist.Normal(loc, torch.nn.functional.softplus(raw)).to_event(1))

        return model, guide

    by_dict = train(*pair(), Dicts(), steps=4, batch_size=8, progress=False)
    by_tensor = train(*pair(), {"pixels": x}, steps=4, batch_size=8, progress=False)
    assert by_dict.history == by_tensor.history


def test_binarize_draws_bernoulli_of_the_grey_levels():
    torch.manual_seed(0)
    grey = torch.rand(200, 50)
    drawn = torch.stack([Binarize()(grey) for _ in range(200)])
    assert set(drawn.unique().tolist()) == {0.0, 1.0}
    # mean of 200 draws: sd ≤ 0.5 / sqrt(200) = 0.035 per pixel; 5 sd over 10000 pixels
    assert (drawn.mean(0) - grey).abs().max() < 0.18
    assert Binarize()((grey, torch.arange(200)))[1].tolist() == list(range(200))
    with pytest.raises(ValueError, match=r"grey levels in \[0, 1\]"):
        Binarize()(grey * 255)


def test_grey_levels_train_with_a_binarizing_transform_and_validation():
    grey = torch.rand(48, 12)
    with pytest.raises(ValueError):  # a Bernoulli model refuses grey levels...
        _fit(Rows(grey))
    result, _ = _fit(Rows(grey), transform=Binarize(), validation=binary_data(n=8))
    assert "val_loss" in result.history[-1]  # ...and trains on their binarization
    assert _fit(grey, transform=Binarize())[0].steps == 6  # tensor data take transforms too


@pytest.mark.parametrize("workers", [0, 2])
def test_a_resumed_streamed_run_continues_bitwise(tmp_path, workers):
    grey = torch.rand(40, 12, generator=torch.Generator().manual_seed(3))
    options = dict(transform=Binarize(), num_workers=workers, checkpoint=tmp_path / "run.pt")
    whole, vae_whole = _fit(Rows(grey), steps=10, **{**options, "checkpoint": None})
    _fit(Rows(grey), steps=4, **options)  # interrupted after 4 steps...
    resumed, vae_resumed = _fit(Rows(grey), steps=10, resume=True, **options)  # ...continued
    assert resumed.history == whole.history
    for (name, a), (_, b) in zip(
        vae_whole.state_dict().items(), vae_resumed.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_a_resume_on_another_data_set_is_refused(tmp_path):
    x = binary_data(n=40)
    _fit(Rows(x), steps=2, checkpoint=tmp_path / "run.pt")
    with pytest.raises(ValueError, match="trained on other data"):
        _fit(Rows(binary_data(n=40, seed=9)), steps=4, checkpoint=tmp_path / "run.pt", resume=True)
