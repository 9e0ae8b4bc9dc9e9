"""What every experiment shares: profiles, output folder, results.json."""

import json
import os

import torch

PROFILES = ("quick", "full")


def check_profile(profile):
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    return profile


def prepare_out(out):
    os.makedirs(out, exist_ok=True)
    return out


def _jsonable(value):
    if torch.is_tensor(value):
        return value.detach().cpu().tolist()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def write_results(out, results: dict) -> dict:
    """Write ``results.json`` (tensors become lists) and return the JSON-ready dict."""
    results = _jsonable(results)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results
