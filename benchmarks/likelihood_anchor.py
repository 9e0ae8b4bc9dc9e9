"""Test likelihood of an MLP VAE trained with pythae's recipe by ``pyrovae.infer.train`` (issue 11).

pythae's reproducibility run for a VAE on static binarized MNIST: encoder 784-400-(40+40) ReLU,
decoder 40-400-784 Bernoulli, Adam at 1e-4 decayed by 10^(-1/5) at epochs 200 and 350, batch 100,
500 epochs, the model of the best validation epoch; pythae reports 89.78 ± 0.01 nats test NLL
(Rezende & Mohamed 2015: 89.9). Here the same recipe runs through ``train(validation=...,
keep_best=True, scheduler=...)`` on the standard split (50000 train / 10000 valid / 10000 test),
and the test NLL of all 10000 test images is estimated by importance sampling with the guide as
proposal, K = 5000 (its Monte Carlo standard error beside it), with the test ELBO.

The IWAE anchor (recipe ``burda-iwae``): Burda, Grosse, Salakhutdinov (2016)'s one-stochastic-
layer architecture (784-200-200-50 tanh, Bernoulli), IWAE with K = 50 (``--gradient reparam`` or
``dreg``), Adam (ε = 1e-4) at 1e-3 decayed by 10^(-1/7) after 1, 4, 13, ... epochs (3^i-epoch
stages, 3280 epochs in all), batch 20; papers / pythae report 86.8-87.1 nats for it. On a CPU run a
shortened schedule with ``--budget-minutes``; the curve records the wall time of every epoch.

Training runs in segments of ``--segment`` epochs, each resuming the checkpoint of the last, so
``--budget-minutes`` can stop a run between segments (the JSON then says how far it got).

    python benchmarks/likelihood_anchor.py --data ../shared/data --recipe pythae \
        --out benchmarks/results/likelihood_anchor_search/pythae_500_epochs.json
    # the recipe search (short proxy runs: 1000 test images, K = 1000), then the long run
    python benchmarks/likelihood_anchor.py --threads 1 --epochs 100 --test-points 1000 \
        --k 1000 --lr 1e-3 --analytic-kl --milestones 50 75 --gamma 0.3 \
        --kl-warmup-epochs 20 --work runs/anchor_search/D \
        --out benchmarks/results/likelihood_anchor_search/D.json
    python benchmarks/likelihood_anchor.py --threads 1 --score-threads 2 --epochs 300 \
        --lr 1e-3 --analytic-kl --milestones 150 225 --gamma 0.3 --kl-warmup-epochs 20 \
        --search benchmarks/results/likelihood_anchor_search --work runs/anchor_final \
        --out benchmarks/results/likelihood_anchor.json
    python benchmarks/likelihood_anchor.py --data ../shared/data --recipe pythae-200-200-50 \
        --out benchmarks/results/likelihood_anchor_200_200_50.json
    python benchmarks/likelihood_anchor.py --data ../shared/data --recipe burda-iwae \
        --gradient dreg --out benchmarks/results/iwae_anchor_dreg.json
"""

import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _common import parser, write_json

from pyrovae.checkpoint import load_checkpoint
from pyrovae.data import load_binarized_mnist, random_subset
from pyrovae.diagnostics import log_likelihood
from pyrovae.infer import IWAE, EvidenceLowerBound, train
from pyrovae.infer.validation import validation_loss
from pyrovae.models import build_vae
from pyrovae.plotting import save_figure, subplots

PYTHAE = dict(
    lr=1e-4,
    milestones=[200, 350],
    gamma=10 ** (-1 / 5),
    epochs=500,
    batch_size=100,
    activation="relu",
)
RECIPES = {
    "pythae": dict(PYTHAE, hidden=[400], z_dim=40),
    # the previous anchor's architecture (two hidden layers of 200, dim z = 50), same recipe
    "pythae-200-200-50": dict(PYTHAE, hidden=[200, 200], z_dim=50),
    "burda-iwae": dict(
        hidden=[200, 200],
        z_dim=50,
        activation="tanh",
        objective="iwae",
        particles=50,
        lr=1e-3,
        eps=1e-4,
        milestones=[1, 4, 13, 40, 121, 364, 1093],
        gamma=10 ** (-1 / 7),
        epochs=3280,
        batch_size=20,
    ),
}
PUBLISHED = {
    "pythae": {"vae": 89.78, "iwae_k50": "86.8-87.1 (issue 11)"},
    "rezende_mohamed_2015": 89.9,
}
TARGET = {"elbo": 89.5, "iwae": 87.1}


def learning_curve(history, test_points, path, bound="ELBO"):
    """Train / valid (per epoch) and test (at the end) negative bound against the epoch."""
    fig, ax = subplots(figsize=(6, 4))
    epochs = [row["epoch"] for row in history]
    ax.plot(epochs, [row["train_loss"] for row in history], label=f"train −{bound} (epoch mean)")
    ax.plot(epochs, [row["val_loss"] for row in history], label=f"valid −{bound}")
    if all(row.get("test_loss") is not None for row in history):
        ax.plot(epochs, [row["test_loss"] for row in history], label=f"test −{bound}")
    for label, value, marker in test_points:
        ax.plot([epochs[-1]], [value], marker, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per image")
    values = [row[k] for row in history for k in ("train_loss", "val_loss", "test_loss")]
    values = [v for v in values if v is not None]
    values += [value for _, value, _ in test_points]
    low = min(values) - 1
    ax.set_ylim(low, max(low + 5, min(max(values), low + 20)))  # the converged part
    ax.legend()
    save_figure(fig, path)


def per_epoch(history, steps_per_epoch):
    """One row per validated epoch: mean training loss over the epoch and the val loss."""
    rows, losses = [], []
    for row in history:
        losses.append(row["loss"])
        if "val_loss" in row:
            rows.append(
                {
                    "epoch": row["step"] / steps_per_epoch,
                    "train_loss": sum(losses) / len(losses),
                    "val_loss": row["val_loss"],
                    "lr": row["lr"],
                    "test_loss": row.get("test_loss"),
                    "seconds": row.get("seconds"),
                }
            )
            losses = []
    return rows


def search_summary(folder):
    """One row per proxy run in ``folder`` (this script's JSON): its recipe, how far it ran and
    its score, best first."""
    rows = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(folder, name)) as f:
            run = json.load(f)
        rows.append(
            {
                "file": os.path.join(folder, name),
                "recipe": run["recipe"],
                "epochs_run": run["epochs_run"],
                "best_epoch": run["best_epoch"],
                "best_val_loss": run["best_val_loss"],
                "test_nll": run["test_nll"],
                "test_nll_stderr": run["test_nll_stderr"],
                "test_elbo": run["test_elbo"],
                "num_samples": run["num_samples"],
                "test_points": run["test_points"],
            }
        )
    return sorted(rows, key=lambda row: row["test_nll"])


def main(argv=None):
    p = parser(__doc__, "benchmarks/results/likelihood_anchor.json")
    p.add_argument("--recipe", choices=sorted(RECIPES), default="pythae")
    p.add_argument("--epochs", type=int, help="override the recipe's 500 epochs")
    p.add_argument("--segment", type=int, default=25, help="epochs per resumed segment")
    p.add_argument("--budget-minutes", type=float, default=math.inf)
    p.add_argument("--patience", type=int, default=None, help="validations without improvement")
    p.add_argument("--test-points", type=int, default=10000)
    p.add_argument("--k", type=int, default=5000)
    p.add_argument(
        "--score-threads",
        type=int,
        default=None,
        help="threads for the importance-sampling score (default --threads), e.g. more than "
        "training had while another job shared the machine",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gradient", choices=("reparam", "stl", "dreg"), default="reparam")
    p.add_argument(
        "--analytic-kl",
        action="store_true",
        help="closed-form KL (pythae's VAE loss uses it) instead of the one-sample estimate",
    )
    p.add_argument("--batch-size", type=int, help="override the recipe's batch size")
    p.add_argument("--lr", type=float, help="override the recipe's learning rate")
    p.add_argument(
        "--milestones", type=int, nargs="*", help="override the epochs where the rate decays"
    )
    p.add_argument("--gamma", type=float, help="override the rate's factor at each milestone")
    p.add_argument(
        "--kl-warmup-epochs",
        type=float,
        default=0,
        help="the KL weight rises linearly from 0 to 1 over this many epochs",
    )
    p.add_argument(
        "--score-only",
        action="store_true",
        help="score the run already in --work (its best checkpoint) without training",
    )
    p.add_argument("--work", default="runs/likelihood_anchor", help="checkpoints and the figure")
    p.add_argument(
        "--search",
        default=None,
        metavar="DIR",
        help="folder of this script's proxy runs (JSON): their recipes and scores are recorded "
        "under 'search' in --out",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import pyro

    pyro.enable_validation(False)
    recipe = dict(RECIPES[args.recipe])
    if args.epochs:
        recipe["epochs"] = args.epochs
    for key in ("batch_size", "lr", "milestones", "gamma"):
        if getattr(args, key) is not None:
            recipe[key] = getattr(args, key)
    kind = recipe.get("objective", "elbo")
    recipe["gradient"] = args.gradient
    recipe["analytic_kl"] = args.analytic_kl
    recipe["kl_warmup_epochs"] = args.kl_warmup_epochs

    def objective():
        if kind == "iwae":
            return IWAE(recipe["particles"], gradient=args.gradient)
        return EvidenceLowerBound(stl=args.gradient == "stl", analytic_kl=args.analytic_kl)

    x_train = load_binarized_mnist(args.data, "train")
    x_valid = load_binarized_mnist(args.data, "valid")
    # a random subset: the binarized test split is ordered by class
    x_test = random_subset(load_binarized_mnist(args.data, "test"), args.test_points, args.seed)
    x_test_curve = x_test.to(args.device)
    os.makedirs(args.work, exist_ok=True)
    ckpt = os.path.join(args.work, f"{args.recipe}.pt")
    for stale in (ckpt, ckpt.replace(".pt", ".best.pt")) if not args.score_only else ():
        if os.path.exists(stale):
            os.remove(stale)

    def scheduler(opt):
        return torch.optim.lr_scheduler.MultiStepLR(opt, recipe["milestones"], recipe["gamma"])

    torch.manual_seed(args.seed)
    vae = build_vae(
        {
            "data_shape": [784],
            "z_dim": recipe["z_dim"],
            "hidden": recipe["hidden"],
            "activation": recipe["activation"],
        }
    )
    start = time.perf_counter()
    done, result = 0, None
    steps_per_epoch = x_train.shape[0] // recipe["batch_size"]

    def clock_and_test(step):
        # wall time, and the test loss (−ELBO or −IWAE bound) of this epoch's parameters
        test = validation_loss(objective(), vae.model, vae.guide, x_test_curve, 1000, args.seed + 2)
        return {"seconds": time.perf_counter() - start, "test_loss": test}

    if args.score_only:  # the checkpoint's run as it is: train() resumes it and does no step
        steps_per_epoch_saved = x_train.shape[0] // recipe["batch_size"]
        recipe["epochs"] = load_checkpoint(ckpt)["step"] // steps_per_epoch_saved
        done = recipe["epochs"] - 1
    while done < recipe["epochs"]:
        done = min(done + args.segment, recipe["epochs"])
        result = train(
            vae.model,
            vae.guide,
            x_train,
            objective(),
            epochs=done,
            batch_size=recipe["batch_size"],
            lr=recipe["lr"],
            seed=args.seed,
            device=args.device,
            validation=x_valid,
            patience=args.patience,
            scheduler=scheduler,
            checkpoint=ckpt,
            resume=True,
            progress=False,
            optim_args={"eps": recipe["eps"]} if "eps" in recipe else None,
            evaluate=clock_and_test,
            kl_warmup=round(args.kl_warmup_epochs * steps_per_epoch),
            evaluate_every=steps_per_epoch,
        )
        minutes = (time.perf_counter() - start) / 60
        print(
            f"epoch {done}: valid loss {result.history[-1]['val_loss']:.2f}, best "
            f"{result.best_val_loss:.2f} at step {result.best_step}, {minutes:.1f} min",
            flush=True,
        )
        if result.stopped_early or minutes > args.budget_minutes:
            break
    train_seconds = time.perf_counter() - start
    curve = per_epoch(result.history, steps_per_epoch)
    if args.score_only:  # test losses logged during that run were on other test images
        for row in curve:
            row["test_loss"] = None
    # the parameters are the best validation epoch's (keep_best)
    vae = vae.to(args.device).eval()
    torch.set_num_threads(args.score_threads or args.threads)
    start = time.perf_counter()
    with torch.no_grad():
        ll = log_likelihood(
            vae.model, vae.guide, x_test.to(args.device), num_samples=args.k, seed=args.seed
        )
    score_seconds = time.perf_counter() - start
    test_elbo = ll["result"].elbo.mean().item()
    out = {
        "recipe": {"name": args.recipe, **recipe},
        "test_nll": -ll["log_likelihood"],
        "test_nll_stderr": ll["stderr"],
        "test_elbo": test_elbo,
        "num_samples": args.k,
        "test_points": int(x_test.shape[0]),
        "khat_max": ll["khat_max"],
        "best_epoch": result.best_step / steps_per_epoch,
        "best_val_loss": result.best_val_loss,
        "epochs_run": result.steps / steps_per_epoch,
        "stopped_early": result.stopped_early,
        "published": PUBLISHED,
        "target": TARGET[kind],
        "meets_target": -ll["log_likelihood"] <= TARGET[kind],
        # score-only resumes a finished run without training: its training time is not known here
        "train_seconds": None if args.score_only else train_seconds,
        "score_seconds": score_seconds,
        "device": args.device,
        "threads": args.threads,
        "score_threads": args.score_threads or args.threads,
        "curve": curve,
    }
    if args.search:
        out["search"] = search_summary(args.search)
    write_json(args.out, out)
    figure = os.path.splitext(args.out)[0] + ".png"
    learning_curve(
        curve,
        [
            ("test −ELBO (best epoch)", -test_elbo, "o"),
            (f"test NLL, IS K = {args.k}", -ll["log_likelihood"], "*"),
        ],
        figure,
        bound="ELBO" if kind == "elbo" else f"IWAE-{recipe['particles']} bound",
    )
    print(
        f"test NLL {out['test_nll']:.2f} ± {out['test_nll_stderr']:.3f} nats, test -ELBO "
        f"{-test_elbo:.2f}, best epoch {out['best_epoch']:.0f} of {out['epochs_run']:.0f}; "
        f"figure {figure}"
    )


if __name__ == "__main__":
    main()
