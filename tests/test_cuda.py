"""The same code on CUDA tensors (skipped without a GPU): objectives and
training keep the device."""

import pyro
import pytest
import torch
from helpers import binary_data, small_vae

from pyrovae.infer import IWAE, EvidenceLowerBound, InfoVAE, train

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize(
    "objective",
    [
        EvidenceLowerBound(),
        IWAE(4),
        InfoVAE(0.0, 50.0),
        InfoVAE(1.0, 5.0, divergence="stein"),
        InfoVAE(0.0, 5.0, divergence="adversarial"),
    ],
)
def test_objectives_on_cuda_match_cpu_structure(objective):
    vae, x = small_vae().cuda(), binary_data().cuda()
    loss = objective.loss_and_grads(vae.model, vae.guide, x, num_data=100)
    assert torch.isfinite(torch.tensor(loss))
    assert all(p.grad.is_cuda for p in vae.encoder.parameters())


def test_training_on_cuda_keeps_the_device(tmp_path):
    vae, x = small_vae(), binary_data(n=64)
    result = train(
        vae.model,
        vae.guide,
        x,
        InfoVAE(0.0, 10.0),
        steps=5,
        batch_size=16,
        device="cuda",
        checkpoint=tmp_path / "c.pt",
        progress=False,
    )
    assert next(vae.parameters()).is_cuda and result.steps == 5


def test_infovae_identity_on_cuda():
    vae, x = small_vae().cuda(), binary_data().cuda()
    pyro.set_rng_seed(1)
    a = InfoVAE(0.0, 1.0).loss(vae.model, vae.guide, x)
    pyro.set_rng_seed(1)
    b = pyro.infer.Trace_ELBO().loss(vae.model, vae.guide, x)
    assert a == pytest.approx(b, rel=1e-5)


def test_ais_and_bdmc_on_cuda():
    from pyrovae.posterior import ais, bdmc

    vae, x = small_vae().cuda(), binary_data(n=8).cuda()
    res = ais(vae.model, x, vae.guide, num_steps=5, num_chains=2, seed=0)
    assert res.log_marginal.is_cuda and torch.isfinite(res.log_marginal).all()
    check = bdmc(vae.model, x.shape[1:], num_points=4, num_steps=5, num_chains=2, seed=0)
    assert check.gap.is_cuda and torch.isfinite(check.gap).all()


def test_vectorized_hmc_and_preconditioned_nuts_on_cuda():
    from pyrovae.posterior import hmc, nuts

    vae, x = small_vae().cuda(), binary_data(n=4).cuda()
    idata = hmc(vae.model, x, num_samples=5, warmup_steps=5, num_chains=2, guide=vae.guide)
    assert idata.posterior["z"].shape[:3] == (2, 5, 4)
    idata = nuts(vae.model, x, num_samples=4, warmup_steps=4, num_chains=1, guide=vae.guide)
    assert idata.posterior["z"].shape[:3] == (1, 4, 4)


def test_direct_path_and_fused_adam_on_cuda():
    """The direct VAE path equals the traced one on CUDA, and train's fused Adam runs there."""
    from pyro import poutine

    from pyrovae.infer import SVIStepper

    vae, x = small_vae().cuda(), binary_data(n=32).cuda()
    pyro.clear_param_store()
    poutine.trace(vae.guide).get_trace(x)
    poutine.trace(vae.model).get_trace(x)
    objective = InfoVAE(0.0, 10.0)
    records = []
    for model, guide in (
        (vae.model, vae.guide),
        (lambda *a: vae.model(*a), lambda *a: vae.guide(*a)),
    ):
        pyro.set_rng_seed(0)
        records.append(objective.evaluate(model, guide, (x,)))
    torch.testing.assert_close(records[0].loss, records[1].loss, rtol=1e-6, atol=1e-5)
    stepper = SVIStepper(lr=1e-3)
    stepper.step(objective, vae.model, vae.guide, x, 100)
    assert stepper.optimizer.defaults["fused"] is True


def test_a_dataset_read_batch_by_batch_trains_on_cuda_like_on_cpu(tmp_path):
    """Pinned CPU batches copied without blocking; a saved model comes back to the CPU."""
    import pyrovae
    from pyrovae.data import Binarize
    from pyrovae.models import build_vae

    x = torch.rand(64, 12)
    data = torch.utils.data.TensorDataset(x)
    runs = {}
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        vae = build_vae({"data_shape": [12], "z_dim": 2, "hidden": [8]})
        result = train(
            vae.model,
            vae.guide,
            data,
            steps=5,
            batch_size=16,
            transform=Binarize(),
            num_workers=1,
            device=device,
            progress=False,
        )
        runs[device] = result.history
        assert next(vae.parameters()).device.type == device
    assert len(runs["cuda"]) == 5
    pyrovae.save(vae, tmp_path / "vae.pt")
    assert next(pyrovae.load(tmp_path / "vae.pt").parameters()).device.type == "cpu"
