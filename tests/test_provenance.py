"""pyrovae.provenance: data content hashes and versions in every record; a resume on other data
or of another model is refused (a checkpoint's config was once rewritten to the new data, and a
Gaussian checkpoint resumed as Bernoulli jumped in loss without a warning); merges of parts run
on different data are refused."""

import json

import pytest
from helpers import binary_data, small_vae, write_results_part

from pyrovae.checkpoint import load_checkpoint
from pyrovae.cli import main
from pyrovae.experiments import get
from pyrovae.experiments.framework.merge import merge_runs
from pyrovae.infer import train
from pyrovae.provenance import file_digest, tensor_digest, versions


def test_digests_follow_content_not_names(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"abc")
    (tmp_path / "b.bin").write_bytes(b"abc")
    assert file_digest(tmp_path / "a.bin") == file_digest(tmp_path / "b.bin")
    before = file_digest(tmp_path)
    (tmp_path / "b.bin").write_bytes(b"abd")
    assert file_digest(tmp_path / "b.bin") != file_digest(tmp_path / "a.bin")
    assert file_digest(tmp_path) != before  # a folder's digest covers its files
    x = binary_data()
    assert tensor_digest(x) == tensor_digest(x.clone())
    assert tensor_digest(x) != tensor_digest(x.flip(0))
    assert tensor_digest(x) != tensor_digest(x.double())


def test_resume_on_other_data_is_refused_and_the_checkpoint_kept(tmp_path):
    x, vae = binary_data(n=48), small_vae()
    path = tmp_path / "checkpoint.pt"
    train(vae.model, vae.guide, x, steps=3, batch_size=16, checkpoint=path, progress=False)
    saved = path.read_bytes()
    for other in (x.flip(0), x[:40], 1.0 - x):
        with pytest.raises(ValueError, match="trained on other data"):
            train(
                vae.model,
                vae.guide,
                other,
                steps=6,
                batch_size=16,
                checkpoint=path,
                resume=True,
                progress=False,
            )
    assert path.read_bytes() == saved
    result = train(
        vae.model,
        vae.guide,
        x,
        steps=6,
        batch_size=16,
        checkpoint=path,
        resume=True,
        progress=False,
    )
    assert result.steps == 6


def test_resume_on_other_data_on_purpose_warns_and_keeps_the_earlier_hashes(tmp_path):
    x, vae = binary_data(n=48), small_vae()
    path = tmp_path / "checkpoint.pt"
    options = dict(batch_size=16, checkpoint=path, progress=False)
    train(vae.model, vae.guide, x, steps=3, **options)
    other = 1.0 - x
    with pytest.warns(UserWarning, match="continuing on the new data as asked"):
        result = train(vae.model, vae.guide, other, steps=6, resume="other-data", **options)
    assert result.steps == 6
    settings = load_checkpoint(path)["settings"]
    assert settings["data_sha256"] == tensor_digest(other)
    assert settings["previous_data_sha256"] == [tensor_digest(x)]
    with pytest.raises(ValueError, match="resume must be False, True or 'other-data'"):
        train(vae.model, vae.guide, x, steps=9, resume="yes", **options)


def test_cli_resume_force_continues_on_other_data(tmp_path, capsys):
    out = str(tmp_path / "run")
    base = ["train", "--dataset", "two-point", "--z-dim", "1", "--hidden", "8", "--out", out]
    base += ["--no-progress", "--min-variance", "1e-3", "--likelihood", "gaussian-decoder"]
    base += ["--batch-size", "25"]
    assert main([*base, "--limit", "100", "--steps", "5"]) == 0
    resumed = [*base, "--limit", "50", "--steps", "10", "--resume"]
    assert main(resumed) != 0
    assert "pyrovae train --resume --force" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="continuing on the new data"):
        assert main([*resumed, "--force"]) == 0
    assert (
        len(load_checkpoint(tmp_path / "run" / "checkpoint.pt")["settings"]["previous_data_sha256"])
        == 1
    )
    assert main([*base, "--steps", "12", "--force"]) == 2
    assert "--force only applies with --resume" in capsys.readouterr().err


def test_cli_resume_with_another_likelihood_is_refused(tmp_path, capsys):
    out = str(tmp_path / "run")
    base = ["train", "--dataset", "two-point", "--z-dim", "1", "--hidden", "8", "--out", out]
    base += ["--no-progress", "--min-variance", "1e-3"]
    assert main([*base, "--likelihood", "gaussian-decoder", "--steps", "5"]) == 0
    saved = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    code = main([*base, "--likelihood", "gaussian", "--steps", "10", "--resume"])
    assert code != 0
    assert "holds another model" in capsys.readouterr().err
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == saved


def test_results_record_the_data_and_versions(tmp_path):
    tiny = {"n": "200", "phases": "((20, 0.05),)"}
    r = get("linear-vae-ppca")(str(tmp_path / "run"), overrides=tiny)
    assert r["provenance"]["versions"] == versions()
    assert r["provenance"]["data"] == {"path": None}  # the experiment generates its data
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk["provenance"] == r["provenance"]


def test_merge_refuses_parts_run_on_different_data(tmp_path):
    def part(name, sha, z):
        return write_results_part(
            tmp_path / name,
            config={"z_dims": [z]},
            rows=[{"z_dim": z}],
            provenance={"data": {"path": "/d", "sha256": sha}},
        )

    with pytest.raises(ValueError, match="run on different data"):
        merge_runs([part("a", "1" * 64, 2), part("b", "2" * 64, 5)], str(tmp_path / "m"))
    assert not (tmp_path / "m").exists()
