"""``pyrovae`` command line: a thin argparse front over the library.

pyrovae demo [--out DIR] [--steps N] [--device cpu|cuda] [--seed N] [--set KEY=VALUE]
pyrovae train --dataset binarized-mnist --data PATH --objective infovae --lam 1000 ...
pyrovae diagnose runs/train/checkpoint.pt --data PATH
"""

import argparse
import json
import math
import os
import sys
import tempfile

import torch

from .checks import FINITE, NON_NEGATIVE, POSITIVE
from .data import DATASETS, load_dataset
from .infer.factory import OBJECTIVES, make_objective
from .infer.iwae_gradients import IWAE_GRADIENTS
from .infer.schedules import named_schedule
from .models.factory import LIKELIHOODS, build_vae
from .nets.mlp import ACTIVATIONS

EPILOG = (
    "Data are never downloaded: pass --data PATH or set PYROVAE_DATA to a folder holding "
    "binarized_mnist.npz / the MNIST idx files."
)


SEED_LIMIT = 2**32  # numpy's seeds; torch's are wider


def _seed(text):
    """An argparse type: a seed, a whole number in [0, 2³²)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed is a whole number, got {text!r}") from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"a seed must be in [0, 2**32), got {value}")
    return value


def _positive_int(text):
    """An argparse type: an integer ≥ 1 (0 and negatives are refused, not reinterpreted)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def _int_list(text):
    """Comma-separated widths, each ≥ 1: ``400`` or ``200,200``."""
    parts = [t.strip() for t in text.split(",") if t.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("expected widths like 400 or 200,200")
    return [_positive_int(t) for t in parts]


def _device(name):
    """``cpu``, ``cuda`` or ``cuda:N``, checked before any work."""
    if name != "cpu" and not (name == "cuda" or name.startswith("cuda:")):
        raise ValueError(f"--device must be cpu, cuda or cuda:N, got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"--device {name} requested but torch sees no CUDA device "
            "(install a CUDA build of torch, or use --device cpu)"
        )
    try:
        device = torch.device(name)
        if device.type == "cuda" and device.index is not None:
            torch.cuda.get_device_properties(device.index)
    except (RuntimeError, AssertionError) as err:
        raise ValueError(f"--device {name}: {err}") from None
    return device


def _writable_folder(path):
    """Create ``path`` and check a file can be written there, before any training."""
    try:
        os.makedirs(path, exist_ok=True)
        # a name of its own: processes checking one folder at once must not remove each
        # other's probe
        fd, probe = tempfile.mkstemp(prefix=".pyrovae-write-test-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(
            f"--out {path!r} is not a writable folder ({err.strerror or err}); choose another --out"
        ) from None
    return path


def _check_writable(path):
    """Refuse an --out that could not be created or written, without creating it (commands
    that read inputs first create it only once the inputs were accepted)."""
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
        raise ValueError(
            f"--out {path!r} is not a writable folder ({existing} is not writable); "
            "choose another --out"
        )
    return path


# Flags several commands share, declared once: (flag, argparse options). A command adds them with
# _shared(parser, "device", "seed", ...), giving only what differs for it (an --out default).
SHARED_FLAGS = {
    "device": ("--device", dict(default="cpu", help="cpu, cuda or cuda:N (default cpu)")),
    "seed": (
        "--seed",
        dict(type=_seed, default=0, help="seed of every random draw, in [0, 2**32) (default 0)"),
    ),
    "no-progress": ("--no-progress", dict(action="store_true", help="hide the progress bars")),
    "data": (
        "--data",
        dict(default=None, help="file or folder of the data set (default: $PYROVAE_DATA)"),
    ),
    "out": ("--out", dict(default=None, help="output folder")),
    "profile": (
        "--profile",
        dict(
            default="quick",
            help="quick: minutes on 2 CPU cores (CI); full: paper scale; some experiments add "
            "cpu (the paper's ingredients within an hour on 2 cores) and paper (sized for "
            "minutes of one GPU) (default quick)",
        ),
    ),
    "budget-minutes": (
        "--budget-minutes",
        dict(
            type=POSITIVE.argparse_type,
            default=None,
            metavar="M",
            help="stop within M minutes at a stage boundary (experiments that run in stages), "
            "saving results marked partial; the same command resumes (default: no limit)",
        ),
    ),
    "set": (
        "--set",
        dict(
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a setting (repeatable; type- and bound-checked; `pyrovae reproduce "
            "NAME --list` lists them), e.g. --set lam=100 --set 'hidden=(256, 256)'",
        ),
    ),
}


def _shared(parser, *names, **changes):
    """Add the shared flags ``names`` to ``parser`` (or an argument group); ``changes`` maps a
    name (``-`` as ``_``) to the options that differ for this command."""
    for name in names:
        flag, options = SHARED_FLAGS[name]
        parser.add_argument(flag, **{**options, **changes.get(name.replace("-", "_"), {})})


def _add_demo(sub):
    p = sub.add_parser(
        "demo",
        help="ELBO vs InfoVAE-MMD on the two-point data (no files needed)",
        description="Train ELBO and InfoVAE-MMD (alpha=0, lambda=500) on the data "
        "{-1, +1} of InfoVAE Proposition 1; write results.json, two_point.png "
        "(q(z|x) against p(z), InfoVAE Figure 1) and history.png; print a table.",
    )
    p.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="optimizer steps per objective (default 6000)",
    )
    _shared(
        p,
        "out",
        "device",
        "seed",
        "no-progress",
        "set",
        out={"default": "pyrovae-demo", "help": "output folder (default ./pyrovae-demo)"},
    )
    return p


def _add_train(sub):
    p = sub.add_parser(
        "train",
        help="train a VAE with a chosen objective",
        epilog=EPILOG,
        description="Train a VAE and write checkpoint.pt, history.json, history.png "
        "and sample / reconstruction figures into --out.",
    )
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=DATASETS, default="binarized-mnist")
    _shared(g, "data")
    g.add_argument("--split", default="train")
    g.add_argument(
        "--limit", type=_positive_int, default=None, help="use only the first N data points"
    )
    g = p.add_argument_group("model")
    g.add_argument("--net", choices=("mlp", "conv"), default="mlp")
    g.add_argument(
        "--hidden", type=_int_list, default=[400], help="MLP widths, e.g. 400 or 200,200"
    )
    g.add_argument(
        "--activation", choices=sorted(ACTIVATIONS), default="relu", help="of the MLP layers"
    )
    g.add_argument("--z-dim", type=_positive_int, default=2)
    g.add_argument("--likelihood", choices=LIKELIHOODS, default="bernoulli")
    g.add_argument(
        "--sigma",
        type=POSITIVE.argparse_type,
        default=1.0,
        help="fixed σ, or initial σ when learned",
    )
    g.add_argument(
        "--min-variance",
        type=NON_NEGATIVE.argparse_type,
        default=0.0,
        help="floor ξ on learned σ² (Mattei & Frellsen 2018); 0 = none",
    )
    g.add_argument("--per-dimension", action="store_true", help="one learned σ per data dimension")
    g = p.add_argument_group("objective")
    g.add_argument("--objective", choices=OBJECTIVES, default="elbo")
    g.add_argument("--beta", type=NON_NEGATIVE.argparse_type, default=1.0, help="β of beta-vae")
    g.add_argument("--alpha", type=FINITE.argparse_type, default=0.0, help="α of infovae")
    g.add_argument("--lam", type=NON_NEGATIVE.argparse_type, default=1.0, help="λ of infovae")
    g.add_argument("--divergence", choices=("mmd", "stein", "adversarial"), default="mmd")
    g.add_argument(
        "--kernel",
        choices=("rbf", "imq", "multiscale"),
        default=None,
        help="MMD kernel of --divergence mmd (default rbf)",
    )
    g.add_argument(
        "--bandwidth",
        default=None,
        help="RBF bandwidth of --divergence mmd: 'dim' (default), 'infovae', 'median' or a float",
    )
    g.add_argument(
        "--particles", type=_positive_int, default=1, help="samples per data point (K of iwae)"
    )
    g.add_argument("--analytic-kl", action="store_true", help="closed-form KL where available")
    g.add_argument(
        "--gradient",
        choices=IWAE_GRADIENTS,
        default="reparam",
        help="guide gradient: reparam, stl (sticking the landing) or dreg (iwae only)",
    )
    g.add_argument(
        "--free-bits",
        type=NON_NEGATIVE.argparse_type,
        default=0.0,
        help="λ nats: clamp each latent dimension's minibatch KL below at λ (elbo, beta-vae)",
    )
    g = p.add_argument_group("training recipe")
    g.add_argument(
        "--valid-split",
        nargs="?",
        const="valid",
        default=None,
        help="validate on the data set's own held-out split (default name: valid) once per "
        "epoch and keep the best model (checkpoint.best.pt)",
    )
    g.add_argument(
        "--validate-every", type=_positive_int, default=None, help="steps between validations"
    )
    g.add_argument(
        "--patience",
        type=_positive_int,
        default=None,
        help="stop after N validations without improvement (needs --valid-split)",
    )
    g.add_argument(
        "--lr-schedule",
        default="none",
        help="none, cosine, step:EPOCHS:GAMMA or multistep:E1,E2:GAMMA (per epoch)",
    )
    g.add_argument(
        "--kl-warmup", type=int, default=0, help="steps over which the KL weight rises from 0"
    )
    g = p.add_argument_group("training")
    g.add_argument("--steps", type=_positive_int, default=None)
    g.add_argument("--epochs", type=_positive_int, default=None)
    g.add_argument("--batch-size", type=_positive_int, default=128)
    g.add_argument("--lr", type=POSITIVE.argparse_type, default=1e-3)
    _shared(g, "device", "seed", "out", out={"default": "runs/train", "help": "default runs/train"})
    g.add_argument("--checkpoint-every", type=_positive_int, default=1000)
    g.add_argument(
        "--log",
        action="append",
        default=[],
        metavar="KIND:WHERE",
        help="log the run to a tracker: tensorboard:DIR or mlflow:URI (e.g. "
        "mlflow:sqlite:///mlflow.db); repeat for several (extras: pip install -e "
        '".[tensorboard]" / ".[mlflow]")',
    )
    g.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    g.add_argument(
        "--force",
        action="store_true",
        help="with --resume: continue even on other data than the checkpoint's (fine-tuning); "
        "the checkpoint keeps the earlier data hashes",
    )
    _shared(g, "no-progress")
    return p


def _add_diagnose(sub):
    p = sub.add_parser(
        "diagnose",
        help="diagnostics report of a trained checkpoint",
        epilog=EPILOG,
        description="Importance-sampled log p(x) with its standard error, ELBO and "
        "variational gap, KL per dimension, active units, (eps, delta)-collapse, "
        "aggregate posterior vs prior (log det Cov, MMD test), I(x;z), decoder "
        "variance health; writes report.json and report.png.",
    )
    p.add_argument(
        "checkpoint",
        help="checkpoint.pt written by `pyrovae train`, or a model saved by pyrovae.save; with "
        "--model, a checkpoint of pyrovae.infer.train or a torch.save(module.state_dict()) of "
        "your model",
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="PACKAGE.MODULE:FACTORY",
        help="your own Pyro model: a callable returning an object with .model and .guide, or "
        "a (model, guide) pair (imported from the current folder or installed packages)",
    )
    p.add_argument(
        "--dataset",
        choices=DATASETS,
        default=None,
        help="default: the data set the checkpoint was trained on",
    )
    _shared(p, "data")
    p.add_argument("--split", default="test")
    p.add_argument(
        "--limit",
        type=_positive_int,
        default=1000,
        help="data points to diagnose (a random subset)",
    )
    p.add_argument(
        "--num-samples", type=_positive_int, default=500, help="importance samples per point"
    )
    p.add_argument(
        "--is-points", type=_positive_int, default=200, help="points that get importance sampling"
    )
    p.add_argument(
        "--method",
        choices=("is", "ais"),
        default="is",
        help="log p(x) by importance sampling (is) or annealed importance sampling (ais): use "
        "ais where IS reports k̂ > 0.7",
    )
    p.add_argument("--ais-steps", type=_positive_int, default=1000, help="AIS temperatures")
    p.add_argument("--ais-chains", type=_positive_int, default=16, help="AIS chains per point")
    p.add_argument("--gap-points", type=int, default=0, help="points for amortization gaps (slow)")
    p.add_argument(
        "--labels",
        default=None,
        help="folder with the MNIST idx test files: labels for a scatter of the binarized "
        "test split",
    )
    _shared(p, "device", "seed", "out", out={"help": "default: the checkpoint's folder"})
    return p


def _add_reproduce(sub):
    p = sub.add_parser(
        "reproduce",
        help="reproduce a claim of a source paper",
        epilog=EPILOG,
        description="Run one experiment; it writes results.json and PNG figures to "
        "--out. `pyrovae reproduce --list` lists the experiments.",
    )
    p.add_argument("name", nargs="?", help="experiment name")
    p.add_argument(
        "--list",
        action="store_true",
        help="list the experiments; with NAME, list its settings (type, bound, value)",
    )
    p.add_argument(
        "--report",
        default=None,
        metavar="RUNS_DIR",
        help="print the reproduction table (claim, paper, ours, command, verdict from the "
        "checks) of every results.json under RUNS_DIR",
    )
    p.add_argument(
        "--readme",
        default=None,
        metavar="README",
        help="with --report: replace the generated table between its markers in this file "
        "(rows of experiments without results under RUNS_DIR are kept as they were)",
    )
    p.add_argument(
        "--stage",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this stage (repeatable) of an experiment that runs in stages; other "
        "processes may run other stages into the same --out at once, and a last call without "
        "--stage assembles them",
    )
    _shared(
        p,
        "profile",
        "device",
        "seed",
        "data",
        "out",
        "no-progress",
        "set",
        "budget-minutes",
        data={"help": "folder or file of binarized MNIST where needed"},
        out={"help": "default: runs/NAME"},
    )
    return p


def _add_merge(sub):
    p = sub.add_parser(
        "merge",
        help="merge runs of one experiment split over one tuple setting",
        description="Join runs of one experiment, profile and seed whose configs differ only "
        "in one tuple setting (e.g. --set 'depths=(1,)' and --set 'depths=(2,)', run side by "
        "side): rows joined, checks recomputed, figures redrawn, into OUT/results.json.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="folders holding results.json")
    _shared(p, "out", out={"required": True, "help": "folder for the merged results.json"})
    return p


def _add_sweep(sub):
    p = sub.add_parser(
        "sweep",
        help="run an experiment over a grid of settings x seeds on Ray",
        epilog=EPILOG,
        description="Every grid point x seed of an experiment runs as a Ray task (local Ray "
        "started on demand, or --address of a cluster), each in OUT/run-..., with OUT/sweep.json "
        "and OUT/sweep.csv; the same command again resumes. `pyrovae sweep --summary OUT` prints "
        "mean +- sd over seeds and draws OUT/summary.png.",
    )
    p.add_argument("name", nargs="?", help="experiment name (`pyrovae reproduce --list`)")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a setting and its values (repeatable: the grid is the product)",
    )
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    _shared(
        p,
        "set",
        "profile",
        "budget-minutes",
        budget_minutes={
            "help": "start no run after M minutes; runs of staged experiments stop at a stage "
            "boundary within them (status partial); the same command goes on later"
        },
    )
    p.add_argument("--workers", type=int, default=1, help="runs at once (default 1)")
    p.add_argument("--gpus-per-run", type=NON_NEGATIVE.argparse_type, default=0.0)
    p.add_argument("--address", default=None, help="an existing Ray cluster (HEAD_IP:6379)")
    _shared(
        p,
        "device",
        "data",
        "out",
        data={"help": "folder of binarized MNIST where needed"},
        out={"help": "default: runs/sweep-NAME"},
    )
    p.add_argument("--summary", default=None, metavar="OUT", help="summarize a sweep folder")
    p.add_argument(
        "--keys", default=None, help="comma-separated result keys for --summary (default: all)"
    )
    return p


def build_parser():
    """The ``pyrovae`` argument parser: one sub-command each for demo, train, diagnose, reproduce,
    sweep and merge, shared flags declared once."""
    parser = argparse.ArgumentParser(
        prog="pyrovae",
        epilog=EPILOG,
        description=(
            "See and fix what goes wrong in VAEs: train with ELBO / beta-VAE / IWAE / InfoVAE."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_demo, _add_train, _add_diagnose, _add_reproduce, _add_sweep, _add_merge):
        add(sub).add_argument(
            "--threads",
            type=_positive_int,
            default=None,
            help="CPU threads for torch (default: torch's choice, all cores). When several jobs "
            "share a machine, give each its share: jobs with all cores each slow one another "
            "down many times over",
        )
    return parser


def cmd_demo(args):
    """``pyrovae demo``: the two-point demo (ELBO against InfoVAE), its table and figures."""
    from .experiments.demo import Config, format_table, run_demo
    from .experiments.framework.settings import parse_assignments, resolve_settings

    overrides = parse_assignments(args.set)
    resolve_settings(Config(), overrides, "demo")  # checked before any work
    device = _device(args.device)
    _writable_folder(args.out)
    results = run_demo(
        args.out,
        steps=args.steps,
        seed=args.seed,
        device=device,
        progress=not args.no_progress,
        overrides=overrides,
    )
    print(format_table(results))
    print(f"wrote {os.path.join(args.out, 'results.json')}, two_point.png, history.png")


def _bandwidth(text):
    try:
        return float(text)
    except ValueError:
        return text


def cmd_train(args):
    """``pyrovae train``: train a VAE on a named data set with a chosen objective and recipe;
    writes a checkpoint, history and figures."""
    from .infer import TrainingDiverged, train
    from .infer.training_state import describe_objective
    from .models.saved import save
    from .plotting import plot_history, plot_image_rows

    if args.steps is None and args.epochs is None:
        args.steps = 1000
    if args.force and not args.resume:
        raise ValueError("--force only applies with --resume (continue on other data)")
    device = _device(args.device)
    mmd = args.objective == "infovae" and args.divergence == "mmd"
    for flag, value in (("--kernel", args.kernel), ("--bandwidth", args.bandwidth)):
        if value is not None and not mmd:
            raise ValueError(
                f"{flag} applies to --objective infovae --divergence mmd only "
                f"(got --objective {args.objective} --divergence {args.divergence}); drop {flag}"
            )
    from .tracking import logger_from_target

    loggers = [logger_from_target(target) for target in args.log]  # before any work
    _writable_folder(args.out)
    data = load_dataset(args.dataset, args.data, args.split)
    if args.limit is not None:
        if args.limit > data.shape[0]:
            raise ValueError(
                f"--limit {args.limit} exceeds the {data.shape[0]} data points of the split"
            )
        data = data[: args.limit]
    model_cfg = dict(
        data_shape=list(data.shape[1:]),
        z_dim=args.z_dim,
        net=args.net,
        hidden=args.hidden,
        activation=args.activation,
        likelihood=args.likelihood,
        sigma=args.sigma,
        min_variance=args.min_variance,
        per_dimension=args.per_dimension,
    )
    torch.manual_seed(args.seed)
    vae = build_vae(model_cfg)
    div_opts = {}
    if mmd:
        div_opts = dict(kernel=args.kernel or "rbf", bandwidth=_bandwidth(args.bandwidth or "dim"))
    objective = make_objective(
        args.objective,
        beta=args.beta,
        alpha=args.alpha,
        lam=args.lam,
        divergence=args.divergence,
        particles=args.particles,
        analytic_kl=args.analytic_kl,
        gradient=args.gradient,
        free_bits=args.free_bits,
        **div_opts,
    )
    validation = None
    if args.valid_split is not None:
        validation = load_dataset(args.dataset, args.data, args.valid_split)
    per_epoch = max(data.shape[0] // min(args.batch_size, data.shape[0]), 1)
    epochs = args.epochs or math.ceil(args.steps / per_epoch)
    scheduler = named_schedule(args.lr_schedule, epochs)
    config = {"model": model_cfg, "args": {k: v for k, v in vars(args).items() if k != "func"}}
    ckpt = os.path.join(args.out, "checkpoint.pt")
    try:
        result = train(
            vae.model,
            vae.guide,
            data,
            objective,
            steps=args.steps,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            device=device,
            seed=args.seed,
            checkpoint=ckpt,
            checkpoint_every=args.checkpoint_every,
            resume="other-data" if args.force else args.resume,
            progress=not args.no_progress,
            config=config,
            validation=validation,
            validate_every=args.validate_every,
            patience=args.patience,
            scheduler=scheduler,
            kl_warmup=args.kl_warmup,
            callbacks=loggers,
        )
    except TrainingDiverged as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    plot_history({args.objective: result.history}, os.path.join(args.out, "history.png"))
    # the trained model (the best validation one with --valid-split), for pyrovae.load / diagnose
    save(
        vae,
        os.path.join(args.out, "model.pt"),
        data=data,
        notes={
            "dataset": args.dataset,
            "data": os.path.abspath(args.data) if args.data else None,
            "split": args.split,
            "objective": describe_objective(objective),
            "steps": result.steps,
            "best_step": result.best_step,
        },
    )
    if data.shape[1:].numel() == 784:
        xs = data[:12].to(next(vae.parameters()).device)
        plot_image_rows(
            {"data": xs, "reconstruction": vae.reconstruct(xs), "prior sample": vae.sample(12)},
            os.path.join(args.out, "samples.png"),
        )
    last = result.history[-1]
    print(json.dumps({k: round(v, 4) for k, v in last.items()}))
    if result.best_step is not None:
        stop = ", stopped early" if result.stopped_early else ""
        print(
            f"best validation loss {result.best_val_loss:.4f} nats at step {result.best_step}"
            f"{stop}; {result.best_checkpoint} holds that model (diagnose it), checkpoint.pt "
            "the last step's (resume it)"
        )
    print(f"wrote {ckpt}, model.pt (pyrovae.load), history.json, history.png to {args.out}")
    return 0


def cmd_diagnose(args):
    """``pyrovae diagnose``: the diagnostics report of a trained checkpoint (or a user model), as
    JSON and a figure."""
    from .checkpoint import load_checkpoint
    from .diagnostics import report
    from .models.saved import load
    from .models.user import load_user_model, load_user_parameters
    from .plotting import plot_report

    device = _device(args.device)
    out = _check_writable(args.out or os.path.dirname(os.path.abspath(args.checkpoint)))
    trained = {}
    if args.model is None:
        vae = load(args.checkpoint, map_location=device).to(device)  # saved or trained
        model, guide = vae.model, vae.guide
        stored = load_checkpoint(args.checkpoint)
        # where the data came from: `pyrovae train`'s arguments, or a saved model's notes
        trained = stored.get("config", {}).get("args") or stored.get("notes", {})
    else:
        model, guide = load_user_model(args.model)
    dataset = args.dataset or trained.get("dataset", "binarized-mnist")
    data = load_dataset(dataset, args.data if args.data else trained.get("data"), args.split)
    # a random subset: the binarized MNIST test split is ordered by class
    perm = torch.randperm(data.shape[0], generator=torch.Generator().manual_seed(args.seed))[
        : args.limit
    ]
    data = data[perm].to(device)
    if args.model is not None:
        kind = load_user_parameters(model, guide, args.checkpoint, data[:2].cpu())
        for fn in (model, guide):
            owner = getattr(fn, "__self__", None)
            if isinstance(owner, torch.nn.Module):
                owner.to(device)
        print(f"loaded {args.model} with the parameters of {args.checkpoint} ({kind})")
    labels = None
    if args.labels:
        if dataset != "binarized-mnist" or args.split != "test":
            raise ValueError(
                "--labels pairs MNIST test labels with --dataset binarized-mnist --split test only"
            )
        from .data import binarized_mnist_test_labels

        labels = binarized_mnist_test_labels(args.labels)[perm]
    rep = report(
        model,
        guide,
        data,
        num_samples=args.num_samples,
        is_points=args.is_points,
        gap_points=args.gap_points,
        labels=labels,
        seed=args.seed,
        method=args.method,
        ais_steps=args.ais_steps,
        ais_chains=args.ais_chains,
    )
    _writable_folder(out)  # created only now: the inputs were accepted
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(rep.summary, f, indent=2)
    plot_report(rep, os.path.join(out, "report.png"))
    ll = rep.summary["log_likelihood"]
    if ll["method"] == "ais":
        how = (
            f"AIS {ll['num_steps']} steps × {ll['num_chains']} chains, {ll['num_points']} points, "
            f"{ll['divergences']} divergent moves; IS gave {ll['importance_sampling']['mean']:.3f} "
            f"with max k̂ {ll['importance_sampling']['khat_max']:.2f}"
        )
    else:
        how = f"K={ll['num_samples']}, {ll['num_points']} points, max k̂ {ll['khat_max']:.2f}"
    print(
        f"log p(x) = {ll['mean']:.3f} ± {ll['stderr']:.3f} nats ({how}); "
        f"ELBO {rep.summary['elbo']:.3f}; "
        f"active units {rep.summary['active_units']}/{rep.summary['latent_dim']}; "
        f"log det Cov q(z) {rep.summary['aggregate_posterior']['log_det_cov']:.3f}"
    )
    print(f"wrote {out}/report.json, report.png")
    return 0


def cmd_reproduce(args):
    """``pyrovae reproduce``: run one experiment, list them (``--list``) or tabulate results
    (``--report``)."""
    from . import experiments

    if args.readme and not args.report:
        raise ValueError("--readme replaces the table that --report RUNS_DIR generates: give both")
    if args.report:
        if args.name or args.set:
            raise ValueError(
                "--report tabulates existing results.json files; it runs nothing, so it takes "
                "no experiment name or --set"
            )
        from .experiments.framework.verdict_table import replace_in_readme, report_table

        table = report_table(args.report)
        print(table)
        if args.readme:
            changed = replace_in_readme(args.readme, table)
            print(
                f"{args.readme}: regenerated the rows of {', '.join(changed['regenerated'])}; "
                f"kept {', '.join(changed['kept']) or 'no other rows'} as they were"
                + (f"; dropped {', '.join(changed['dropped'])}" if changed["dropped"] else "")
            )
        return 0
    if args.list and args.name:
        from .experiments.framework.settings import describe_settings, parse_assignments

        overrides = parse_assignments(args.set)
        settings = experiments.experiment_settings(args.name, args.profile, overrides)
        print(f"{args.name} ({args.profile}): --set KEY=VALUE takes")
        for line in describe_settings(settings, with_values=True):
            print(f"  {line}")
        module = experiments.experiment_module(args.name)
        if hasattr(module, "stages"):  # one line, for scripts that run stages side by side
            print("stages: " + " ".join(module.stages(settings)))
        return 0
    if args.list or not args.name:
        for name in experiments.REGISTRY:
            doc = (experiments.describe(name) or "").strip().splitlines()
            print(f"{name:<24}{doc[0] if doc else ''}")
        return 0
    from .experiments.framework.settings import parse_assignments

    run = experiments.get(args.name)
    overrides = parse_assignments(args.set)
    experiments.experiment_settings(args.name, args.profile, overrides)  # checked before any work
    out = args.out or os.path.join("runs", args.name)
    device = _device(args.device)
    _writable_folder(out)
    results = run(
        out=out,
        profile=args.profile,
        device=device,
        seed=args.seed,
        data=args.data,
        progress=not args.no_progress,
        overrides=overrides,
        budget_minutes=args.budget_minutes,
        stages=args.stage or None,
    )
    print(
        json.dumps({k: v for k, v in results.items() if not isinstance(v, (list, dict))}, indent=2)
    )
    if results.get("partial"):
        print(
            f"wrote {out}/results.json, partial: {len(results['stages_done'])} stages done, "
            f"{len(results['stages_left'])} left ({', '.join(results['stages_left'])}); run the "
            "same command again to go on"
        )
        return 0
    print(f"wrote {out}/results.json and figures")
    return 0


def cmd_sweep(args):
    """``pyrovae sweep``: run a grid of settings x seeds on Ray, or summarize a finished sweep."""
    from .plotting.figure import save_figure
    from .sweep import format_table, load_sweep, plot_summary, run_sweep, summarize

    if args.summary:
        sweep = load_sweep(args.summary)
        keys = [k.strip() for k in args.keys.split(",")] if args.keys else None
        table = summarize(sweep, keys)
        keys = keys or [k for k in table[0] if k not in ("params", "ok", "failed", "checks")]
        print(format_table(table, keys))
        for row in table:
            if row["checks"]:
                held = ", ".join(f"{c} {f:.0%}" for c, f in row["checks"].items())
                print(f"  checks at {row['params'] or '(no grid)'}: {held}")
        if keys and 1 <= len(sweep["spec"]["grid"]) <= 2:
            # summary.png for the first key; with --keys, one figure per key as well
            names = ["summary.png"] + [f"summary-{k}.png" for k in keys] * bool(args.keys)
            for name, key in zip(names, keys[:1] + keys * bool(args.keys), strict=True):
                path = os.path.join(
                    args.summary, "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
                )
                print(f"wrote {save_figure(plot_summary(sweep, table, key), path)}")
        return 0
    if not args.name:
        raise ValueError("name an experiment (`pyrovae reproduce --list`), or give --summary OUT")
    out = args.out or os.path.join("runs", f"sweep-{args.name}")
    sweep = run_sweep(
        args.name,
        grid=args.grid,
        seeds=args.seeds,
        sets=args.set,
        profile=args.profile,
        out=out,
        workers=args.workers,
        gpus_per_run=args.gpus_per_run,
        address=args.address,
        device=args.device,
        data=args.data,
        threads_per_run=args.threads,
        budget_minutes=args.budget_minutes,
    )
    failed = [r["run"] for r in sweep["runs"] if r["status"] != "ok"]
    print(f"wrote {out}/sweep.json and sweep.csv: {len(sweep['runs'])} runs, {len(failed)} failed")
    return 1 if failed else 0


def cmd_merge(args):
    """``pyrovae merge``: merge the parts of one experiment run on several machines into one
    results.json."""
    from .experiments.framework.merge import merge_runs

    results = merge_runs(args.runs, args.out)  # built beside --out, renamed at the end
    verdicts = ", ".join(f"{k}: {v}" for k, v in results["checks"].items())
    print(f"merged {len(args.runs)} runs into {args.out}/results.json; checks: {verdicts}")
    return 0


def main(argv=None):
    """The ``pyrovae`` command: parse ``argv``, run the sub-command; exit code 2 for bad input (a
    message naming the fix), 3 for a diverged run."""
    args = build_parser().parse_args(argv)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    try:
        commands = {
            "demo": cmd_demo,
            "train": cmd_train,
            "diagnose": cmd_diagnose,
            "reproduce": cmd_reproduce,
            "sweep": cmd_sweep,
            "merge": cmd_merge,
        }
        code = commands[args.command](args)
    except (ValueError, FileNotFoundError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early (`| head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        return 0
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
