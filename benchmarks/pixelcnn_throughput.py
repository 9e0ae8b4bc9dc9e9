"""Throughput of the conditional-PixelCNN VAE (the InfoVAE paper's decoder family) under what
torch offers, side by side with the plain float32 model: the training step (ELBO, batch 100)
and the teacher-forced log-likelihood pass log p(x | z) (one pass of the whole PixelCNN, what
importance sampling and AIS evaluate over and over).

Variants (``--variants``, each applied to a fresh ``conv_vae(5, decoder="pixelcnn")``):

* ``float32``: as built (the baseline);
* ``channels_last``: the decoder and the PixelCNN in ``torch.channels_last`` memory format;
* ``compile``: the PixelCNN's forward through ``torch.compile`` (inductor; its compile time is
  spent in the warm-up steps and reported apart);
* ``pyro_validation``: as ``float32`` with Pyro's argument and support checks on (Pyro's default;
  the other variants run with them off, as every benchmark here does);
* ``bfloat16``: the step under ``torch.autocast(dtype=torch.bfloat16)`` on the device: convs in
  bfloat16, the log-likelihood summed in float32 (``AutoregressiveBernoulli.log_prob``).

Timing: ``--warmup`` steps, then ``--steps`` timed (``train``'s loop only), the variants one after
another, the whole round ``--repeats`` times; medians, and ``speedup`` = baseline median / the
variant's. The log-likelihood pass: ``--ll-points`` test images, z the guide's mean, timed
``--ll-repeats`` times. ``max_abs_error_nats``: the largest |log p(x|z) − the float32 value| over
those images, the variant's weights equal to the baseline's (what a lower precision costs).

Ancestral sampling (``sampling``, float32): ``--sample-points`` samples drawn pixel by pixel with
the net run on the band of rows each pixel's logit can see (``PixelCNN.rows_above``), side by
side with the same sampler running the whole image every pass (the net wrapped so that it
hides ``rows_above``); same seed, ``max_abs_probability_difference`` between the two.

    python benchmarks/pixelcnn_throughput.py --data ../shared/data --threads 2

Writes ``benchmarks/results/pixelcnn_throughput.json`` (``pixelcnn_throughput_cuda.json`` is the
name to give a CUDA run).
"""

import contextlib
import statistics
import time

import pyro
import torch
from _common import LoopTimer, command_line, parser, write_json

from pyrovae.data import load_binarized_mnist, random_subset
from pyrovae.infer import EvidenceLowerBound, train
from pyrovae.models import conv_vae
from pyrovae.models.autoregressive import AutoregressiveBernoulli

VARIANTS = ("float32", "pyro_validation", "channels_last", "compile", "bfloat16")


def build(variant, args, seed=0):
    """A fresh PixelCNN VAE with ``variant`` applied, and the context its passes run under."""
    vae = conv_vae(5, channels=args.channels, hidden=args.hidden, decoder="pixelcnn", seed=seed)
    vae = vae.to(args.device)
    context = contextlib.nullcontext
    if variant == "channels_last":
        vae.decoder.to(memory_format=torch.channels_last)
        vae.likelihood.net.to(memory_format=torch.channels_last)
    elif variant == "pyro_validation":

        def context():
            return pyro.validation_enabled(True)

    elif variant == "compile":
        vae.likelihood.net.compile()
    elif variant == "bfloat16":
        device_type = torch.device(args.device).type

        def context():
            return torch.autocast(device_type, dtype=torch.bfloat16)

    elif variant != "float32":
        raise SystemExit(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    return vae, context


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def train_ms(variant, x, args, seed):
    """(ms per timed step, seconds of the warm-up steps) of ``train`` on a fresh model."""
    vae, context = build(variant, args, seed)
    timer = LoopTimer(args.warmup)
    began = time.perf_counter()
    with context():
        train(
            vae.model,
            vae.guide,
            x,
            EvidenceLowerBound(),
            steps=args.warmup + args.steps,
            batch_size=100,
            device=args.device,
            seed=seed,
            progress=False,
            callbacks=[timer],
        )
    _sync(args.device)
    total = time.perf_counter() - began
    return timer.seconds / args.steps * 1e3, total - timer.seconds


@torch.no_grad()
def log_likelihood_pass(vae, context, x):
    """log p(x | z) per image, z the guide's mean: one teacher-forced pass."""
    with context():
        loc, _ = vae.encode(x)
        return vae.likelihood(vae.decoder(loc), vae.data_shape).log_prob(x).float()


class WholeImage(torch.nn.Module):
    """The PixelCNN without ``rows_above``: the sampler then runs it on the whole image."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, condition):
        return self.net(x, condition)


@torch.no_grad()
def sampling(args):
    """ms per ancestral sample, banded and whole-image, from one model and seed."""
    vae, _ = build("float32", args)
    z = torch.randn(args.sample_points, 5, device=args.device)
    condition = vae.decoder(z)
    banded = vae.likelihood(condition, vae.data_shape)
    whole = AutoregressiveBernoulli(
        WholeImage(banded.net), banded.condition, banded.image_shape, banded.data_shape
    )
    out = {}
    for name, dist in (("band", banded), ("whole_image", whole)):
        torch.manual_seed(0)
        _sync(args.device)
        began = time.perf_counter()
        _, probs = dist._ancestral()
        _sync(args.device)
        out[name] = {"seconds": time.perf_counter() - began, "probs": probs}
    return {
        "points": args.sample_points,
        "ms_per_sample_band": round(out["band"]["seconds"] / args.sample_points * 1e3, 2),
        "ms_per_sample_whole_image": round(
            out["whole_image"]["seconds"] / args.sample_points * 1e3, 2
        ),
        "speedup": round(out["whole_image"]["seconds"] / out["band"]["seconds"], 3),
        "max_abs_probability_difference": (out["band"]["probs"] - out["whole_image"]["probs"])
        .abs()
        .max()
        .item(),
    }


def main():
    p = parser(__doc__, "benchmarks/results/pixelcnn_throughput.json")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--ll-points", type=int, default=500)
    p.add_argument("--ll-repeats", type=int, default=5)
    p.add_argument("--sample-points", type=int, default=50)
    args = p.parse_args()
    variants = args.variants.split(",")
    torch.set_num_threads(args.threads)
    pyro.enable_validation(False)
    x = load_binarized_mnist(args.data, "train")[:5000]
    x_test = random_subset(load_binarized_mnist(args.data, "test"), args.ll_points, 0)
    x_test = x_test.to(args.device)

    step = {v: [] for v in variants}
    warmup_seconds = {v: [] for v in variants}
    for repeat in range(args.repeats):
        for variant in variants:
            ms, warm = train_ms(variant, x, args, seed=repeat)
            step[variant].append(ms)
            warmup_seconds[variant].append(warm)

    reference, _ = build("float32", args)
    exact = log_likelihood_pass(reference, contextlib.nullcontext, x_test)
    passes = {}
    for variant in variants:
        vae, context = build(variant, args)
        vae.load_state_dict(reference.state_dict())
        values = log_likelihood_pass(vae, context, x_test)  # also the warm-up (compiles)
        seconds = []
        for _ in range(args.ll_repeats):
            _sync(args.device)
            began = time.perf_counter()
            log_likelihood_pass(vae, context, x_test)
            _sync(args.device)
            seconds.append(time.perf_counter() - began)
        passes[variant] = {
            "ms_per_image": [round(s / args.ll_points * 1e3, 4) for s in seconds],
            "median_ms_per_image": round(statistics.median(seconds) / args.ll_points * 1e3, 4),
            "max_abs_error_nats": (values - exact).abs().max().item(),
            "mean_error_nats": (values - exact).mean().item(),
        }

    base_step = statistics.median(step["float32"]) if "float32" in step else None
    base_pass = passes["float32"]["median_ms_per_image"] if "float32" in passes else None
    results = {}
    for variant in variants:
        median = statistics.median(step[variant])
        results[variant] = {
            "train_step": {
                "ms_per_step": [round(t, 3) for t in step[variant]],
                "median_ms": round(median, 3),
                "speedup": round(base_step / median, 3) if base_step else None,
                "warmup_seconds": [round(s, 2) for s in warmup_seconds[variant]],
            },
            "log_likelihood_pass": {
                **passes[variant],
                "speedup": round(base_pass / passes[variant]["median_ms_per_image"], 3)
                if base_pass
                else None,
            },
        }
    write_json(
        args.out,
        {
            "command": command_line(args),
            "device": str(args.device)
            if not args.device.startswith("cuda")
            else torch.cuda.get_device_name(),
            "threads": args.threads,
            "torch": torch.__version__,
            "model": {"z_dim": 5, "channels": args.channels, "hidden": args.hidden},
            "variants": results,
            "sampling": sampling(args),
        },
    )


if __name__ == "__main__":
    main()
