"""The Hub for real: push, load by hf-hub: name, revisions, cache and offline, against a loopback Hub."""

import json

import pytest
import torch
from huggingface_hub import constants as hf_constants

import ganzoo

from .conftest import run_ganzoo

TINY = dict(image_size=16, channels=1, ngf=8, ndf=8)
REPO = "zoo/dcgan-tiny"


@pytest.fixture
def endpoint(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)  # ganzoo reads it at call time
    return hub.endpoint


def _train(out, steps):
    return ganzoo.train(
        "dcgan", "mnist-5k", steps=steps, out=out, batch_size=16, progress="off", sample_every=0, **TINY
    )


def test_push_load_revisions_and_offline_cache(tmp_path, hub, endpoint, monkeypatch):
    first = ganzoo.load(str(_train(tmp_path / "a", 3)))
    sha1 = first.push_to_hub(REPO)
    assert hub.commits(REPO)[-1] == sha1
    assert {"config.json", "model.safetensors", "README.md", "samples.png"} <= set(hub.files(REPO))
    loaded = ganzoo.load(f"hf-hub:{REPO}")
    assert torch.equal(loaded.sample(6, seed=11), first.sample(6, seed=11))

    second = ganzoo.load(str(_train(tmp_path / "b", 6)))
    sha2 = second.push_to_hub(REPO)
    assert sha2 != sha1 and hub.commits(REPO)[-2:] == [sha1, sha2]
    assert torch.equal(ganzoo.load(f"hf-hub:{REPO}").sample(6, seed=11), second.sample(6, seed=11))
    old = ganzoo.load(f"hf-hub:{REPO}@{sha1}")  # a pinned revision still gives the old weights
    assert torch.equal(old.sample(6, seed=11), first.sample(6, seed=11))
    assert torch.equal(
        ganzoo.load(f"hf-hub:{REPO}", revision=sha1).nets["G"].main[0].weight, first.nets["G"].main[0].weight
    )

    hub.stop()
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    assert torch.equal(ganzoo.load(f"hf-hub:{REPO}@{sha1}").sample(3, seed=1), first.sample(3, seed=1))
    assert torch.equal(ganzoo.load(f"hf-hub:{REPO}").sample(3, seed=1), second.sample(3, seed=1))
    with pytest.raises(
        FileNotFoundError, match=r"zoo/never-downloaded@main is not in the Hub cache and the Hub cannot be reached"
    ):
        ganzoo.load("hf-hub:zoo/never-downloaded")


def test_branch_revision_and_errors(tmp_path, hub, endpoint):
    model = ganzoo.load(str(_train(tmp_path / "a", 2)))
    sha = model.push_to_hub(REPO, revision="experiment")
    assert ganzoo.load(f"hf-hub:{REPO}@experiment").config == model.config
    with pytest.raises(FileNotFoundError, match="Hub repo 'zoo/missing' not found"):
        ganzoo.load("hf-hub:zoo/missing")
    with pytest.raises(FileNotFoundError, match=f"Hub repo '{REPO}' has no revision 'nope'"):
        ganzoo.load(f"hf-hub:{REPO}@nope")
    assert len(sha) == 40


def test_push_command_publishes_a_run_with_its_recipe(tmp_path, hub, endpoint, hf_env):
    run = _train(tmp_path / "run", 4)
    env = {"HF_ENDPOINT": endpoint, "HF_HUB_CACHE": str(hf_env), "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    out = run_ganzoo("push", str(run), "zoo/from-cli", env_extra=env)
    assert out.returncode == 0, out.stderr[-2000:]
    sha = hub.commits("zoo/from-cli")[-1]
    assert sha in out.stdout
    files = hub.files("zoo/from-cli")
    card = files["README.md"].decode()
    assert "library_name: ganzoo" in card and "datasets:\n- mnist" in card
    assert (
        "ganzoo train dcgan --data mnist-5k -c image_size=16 -c channels=1 -c ngf=8 -c ndf=8 --steps 4 --batch-size 16"
        in card
    )
    assert json.loads(files["config.json"])["data"] == {"spec": "mnist-5k", "kind": "image"}
    # and the CLI samples from it by name, then offline from the cache
    grid, offline_grid, local_grid = tmp_path / "grid.png", tmp_path / "offline.png", tmp_path / "local.png"
    assert run_ganzoo("sample", "hf-hub:zoo/from-cli", "-n", "4", "-o", str(grid), env_extra=env).returncode == 0
    hub.stop()
    offline = run_ganzoo(
        "sample",
        f"hf-hub:zoo/from-cli@{sha}",
        "-n",
        "4",
        "-o",
        str(offline_grid),
        env_extra={**env, "HF_HUB_OFFLINE": "1"},
    )
    assert offline.returncode == 0, offline.stderr[-2000:]
    import numpy as np
    from PIL import Image

    from ganzoo.engine.outputs import save_grid

    save_grid(ganzoo.load(str(run)).sample(4, seed=0), local_grid)  # `ganzoo sample`'s default seed
    pixels = [torch.from_numpy(np.asarray(Image.open(p).convert("L")).copy()) for p in (grid, offline_grid, local_grid)]
    assert pixels[0].float().std() > 0  # a picture, not a blank
    assert torch.equal(pixels[0], pixels[2]) and torch.equal(pixels[1], pixels[2])  # the run's own weights, both ways
