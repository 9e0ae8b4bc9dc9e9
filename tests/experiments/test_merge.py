"""`pyrovae merge`: runs split over one tuple setting join into the run over the whole setting."""

import json

import pytest
from conftest import SHARED_DATA
from helpers import write_results_part

from pyrovae.cli import main
from pyrovae.experiments import get
from pyrovae.experiments.framework.merge import merge_runs

needs_data = pytest.mark.skipif(
    not (SHARED_DATA / "fashion-mnist" / "train-images-idx3-ubyte.gz").exists(),
    reason="needs ../shared/data/fashion-mnist",
)
TINY = {"n": 120, "steps": 15, "width": 8, "z_dim": 3}


def _run(path, depths, seed=0, **extra):
    return get("dai-depth")(
        str(path), data=str(SHARED_DATA), seed=seed, overrides={**TINY, "depths": depths, **extra}
    )


@needs_data
def test_merged_parts_equal_the_joint_run(tmp_path):
    joint = _run(tmp_path / "joint", (1, 2))
    _run(tmp_path / "d1", (1,))
    _run(tmp_path / "d2", (2,))
    code = main(["merge", str(tmp_path / "d1"), str(tmp_path / "d2"), "--out", str(tmp_path / "m")])
    assert code == 0
    merged = json.loads((tmp_path / "m" / "results.json").read_text())
    assert merged["config"] == joint["config"]
    assert merged["rows"] == joint["rows"]  # same seed per run: the parts are the joint's rows
    assert merged["checks"] == joint["checks"]
    for key in ("AE_error_depth_1", "VAE_error_depth_2", "VAE_sigma_z_median_depth_2"):
        assert merged[key] == joint[key]
    assert merged["figures"] == ["depth.png"] and (tmp_path / "m" / "depth.png").exists()
    assert [p.rsplit("/", 1)[-1] for p in merged["merged_from"]] == ["d1", "d2"]


@needs_data
def test_parts_that_cannot_be_merged_are_refused(tmp_path):
    _run(tmp_path / "d1", (1,))
    _run(tmp_path / "d1b", (1,))
    _run(tmp_path / "d12", (1, 2))
    _run(tmp_path / "d2s1", (2,), seed=1)
    _run(tmp_path / "d2lr", (2,), lr=0.01)
    with pytest.raises(ValueError, match="one run twice"):
        merge_runs([str(tmp_path / "d1"), str(tmp_path / "d1b")], str(tmp_path / "m"))
    with pytest.raises(ValueError, match=r"values of 'depths' overlap: \[1, 1, 2\]"):
        merge_runs([str(tmp_path / "d1"), str(tmp_path / "d12")], str(tmp_path / "m"))
    with pytest.raises(ValueError, match="'seed'"):
        merge_runs([str(tmp_path / "d1"), str(tmp_path / "d2s1")], str(tmp_path / "m"))
    with pytest.raises(ValueError, match=r"exactly one tuple setting.*'depths', 'lr'"):
        merge_runs([str(tmp_path / "d1"), str(tmp_path / "d2lr")], str(tmp_path / "m"))
    with pytest.raises(FileNotFoundError, match="results.json"):
        merge_runs([str(tmp_path / "d1"), str(tmp_path / "nothing")], str(tmp_path / "m"))
    with pytest.raises(ValueError, match="at least two"):
        merge_runs([str(tmp_path / "d1")], str(tmp_path / "m"))
    assert not (tmp_path / "m").exists()  # nothing written when refused


def test_parts_that_disagree_beyond_rows_are_refused(tmp_path):
    """Hand-made parts: a field other than rows that differs (infovae-comparison keeps sample
    images of its last z only) is named; results without rows are refused."""
    a = write_results_part(
        tmp_path / "a", config={"z_dims": [2]}, rows=[{"z_dim": 2}], samples={"x": [1]}
    )
    b = write_results_part(
        tmp_path / "b", config={"z_dims": [5]}, rows=[{"z_dim": 5}], samples={"x": [2]}
    )
    with pytest.raises(ValueError, match="disagree on 'samples'"):
        merge_runs([a, b], str(tmp_path / "m"))
    c = write_results_part(tmp_path / "c", config={"datasets": ["x"]}, datasets={})
    d = write_results_part(tmp_path / "d", config={"datasets": ["y"]}, datasets={})
    with pytest.raises(ValueError, match="no 'rows'"):
        merge_runs([c, d], str(tmp_path / "m"))
    assert not (tmp_path / "m").exists()


def _bytes(*folders):
    return {str(f): (f / "results.json").read_bytes() for f in folders}


@needs_data
def test_merge_never_writes_into_its_parts_and_a_failed_merge_leaves_nothing(tmp_path, capsys):
    """An --out that is a part, inside one or above one is refused; a part with a string where
    a number belongs fails the checks in a temporary folder: exit ≠ 0, no --out folder, the
    parts' bytes unchanged (the merge once replaced A/results.json before failing)."""
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    _run(d1, (1,))
    _run(d2, (2,))
    before = _bytes(d1, d2)
    for out in (d1, d1 / "inside", tmp_path):
        with pytest.raises(ValueError, match="never writes into its inputs"):
            merge_runs([str(d1), str(d2)], str(out))
    assert main(["merge", str(d1), str(d2), "--out", str(d1)]) != 0
    assert _bytes(d1, d2) == before and not (d1 / "inside").exists()
    broken = tmp_path / "d2broken"
    broken.mkdir()
    results = json.loads((d2 / "results.json").read_text())
    results["rows"][0] = {
        k: "abc" if isinstance(v, float) else v for k, v in results["rows"][0].items()
    }
    (broken / "results.json").write_text(json.dumps(results))
    broken_bytes = (broken / "results.json").read_bytes()
    assert main(["merge", str(d1), str(broken), "--out", str(tmp_path / "m")]) != 0
    assert "wrong kind" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    assert _bytes(d1, d2) == before and (broken / "results.json").read_bytes() == broken_bytes


@needs_data
def test_merge_refuses_nan_rows_truncated_parts_and_an_out_with_results(tmp_path):
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    _run(d1, (1,))
    _run(d2, (2,))
    nan_part = tmp_path / "nan"
    nan_part.mkdir()
    results = json.loads((d2 / "results.json").read_text())
    key = next(k for k, v in results["rows"][0].items() if isinstance(v, float))
    results["rows"][0][key] = float("nan")
    (nan_part / "results.json").write_text(json.dumps(results))
    with pytest.raises(ValueError, match=rf"{nan_part}: rows\[0\]\['{key}'\] is not a finite"):
        merge_runs([str(d1), str(nan_part)], str(tmp_path / "m"))
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "results.json").write_bytes((d2 / "results.json").read_bytes()[:100])
    with pytest.raises(ValueError, match=rf"{cut}/results.json is not readable JSON"):
        merge_runs([str(d1), str(cut)], str(tmp_path / "m"))
    merge_runs([str(d1), str(d2)], str(tmp_path / "m"))
    with pytest.raises(ValueError, match="already holds a results.json"):
        merge_runs([str(d1), str(d2)], str(tmp_path / "m"))
