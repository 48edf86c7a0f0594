"""Data sets from the Hub (--data hf:ORG/NAME[@REVISION][:SPLIT]) against the loopback Hub: labelled
training, exact resume on the recorded commit after a new push, offline from the cache, clear errors."""

from __future__ import annotations

import json
import sys

import datasets  # noqa: E402  (the dev extra installs it)
import numpy as np
import pytest
import torch
from huggingface_hub import constants as hf_constants

import ganzoo
from ganzoo.data import load_dataset
from ganzoo.engine.checkpoint import list_checkpoints, read_checkpoint

from .conftest import run_ganzoo

REPO = "zoo/blocks"
CLASSES = ["circle", "cross", "dot", "square"]
# a small conditional SN-GAN: one critic step per generator step, narrow nets, no decay (its schedule follows --steps)
SNGAN = dict(
    image_size=32,
    channels=1,
    g_ch=8,
    d_ch=8,
    n_dis=1,
    num_classes=4,
    decay_start=1.0,
    batch_size=8,
    progress="off",
    sample_every=0,
    checkpoint_every=0,
)


@pytest.fixture
def api(hub, hf_env, monkeypatch):
    """An HfApi on the loopback Hub, with ganzoo and the datasets cache pointed there and at tmp_path."""
    from huggingface_hub import HfApi

    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(hf_env.parent / "datasets"))
    return HfApi(endpoint=hub.endpoint, token=False)


def push(
    api, tmp_path, repo: str, n: int, seed: int, *, columns: str = "image", unlabelled: int = 0, split: str = "train"
) -> str:
    """Upload n random 8x8 gray images (column "image") with a ClassLabel "label" as one parquet file; the commit sha.

    columns="numbers" pushes no images at all; columns="strings" names the images "pixels" and
    gives a plain string column "kind" beside the ClassLabel. The first ``unlabelled`` rows get label -1 (none).
    """
    from datasets import ClassLabel, Dataset, Features, Image, Value
    from PIL import Image as PILImage

    rng = np.random.default_rng(seed)
    labels = [-1 if i < unlabelled else i % len(CLASSES) for i in range(n)]
    if columns == "numbers":
        rows = {"x": rng.normal(size=n).tolist(), "label": labels}
        features = Features({"x": Value("float64"), "label": ClassLabel(names=CLASSES)})
    else:
        images = [PILImage.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)) for _ in range(n)]
        name = "pixels" if columns == "strings" else "image"
        rows = {name: images, "label": labels}
        features = {name: Image(), "label": ClassLabel(names=CLASSES)}
        if columns == "strings":
            rows["kind"] = [CLASSES[3 - y] for y in labels]
            features["kind"] = Value("string")
        features = Features(features)
    path = tmp_path / f"{repo.replace('/', '-')}-{seed}.parquet"
    Dataset.from_dict(rows, features=features).to_parquet(str(path))
    api.create_repo(repo, repo_type="dataset", exist_ok=True)
    info = api.upload_file(
        path_or_fileobj=str(path),
        path_in_repo=f"data/{split}-00000-of-00001.parquet",
        repo_id=repo,
        repo_type="dataset",
    )
    return info.oid


def state(run) -> dict[str, torch.Tensor]:
    tensors, _ = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    return {k: v for k, v in tensors.items() if not k.startswith("rng.")}


def test_labelled_training_exact_resume_on_the_recorded_commit_and_offline(tmp_path, hub, api, monkeypatch):
    first = push(api, tmp_path, REPO, 40, seed=1)
    straight = ganzoo.train("sngan", f"hf:{REPO}", steps=6, out=tmp_path / "straight", **SNGAN)
    record = json.loads((straight / "config.json").read_text())["data"]
    assert record == {
        "spec": f"hf:{REPO}",
        "kind": "image",
        "classes": CLASSES,
        "source": {"repo": REPO, "revision": first, "split": "train", "image_column": "image", "label_column": "label"},
    }
    ganzoo.train("sngan", f"hf:{REPO}", steps=3, out=tmp_path / "resumed", **SNGAN)

    second = push(api, tmp_path, REPO, 48, seed=2)  # main moves on: other images, more of them
    assert len(load_dataset(f"hf:{REPO}", image_size=8)[0]) == 48
    resumed = ganzoo.train(out=tmp_path / "resumed", steps=6, resume=True, progress="off")
    a, b = state(straight), state(resumed)  # only the first commit's rows give the same weights
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    pinned, _ = load_dataset(f"hf:{REPO}@{first}", image_size=8)
    assert len(pinned) == 40 and pinned.source["revision"] == first
    with pytest.raises(ValueError, match=r"data image_column='image', not 'pixels'"):
        ganzoo.train(out=tmp_path / "resumed", steps=8, resume=True, data_options={"image_column": "pixels"})

    # offline (HF_HUB_OFFLINE=1, the Hub gone), the CLI reads main's cached commit, with the columns named
    hub.stop()
    out = run_ganzoo(
        "train",
        "dcgan",
        "--data",
        f"hf:{REPO}",
        "--image-column",
        "image",
        "--label-column",
        "label",
        "--image-size",
        "16",
        "--channels",
        "1",
        "-c",
        "ngf=8",
        "-c",
        "ndf=8",
        "--steps",
        "2",
        "--batch-size",
        "8",
        "--progress",
        "off",
        "--out",
        str(tmp_path / "offline"),
        env_extra={"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    source = json.loads((tmp_path / "offline" / "config.json").read_text())["data"]["source"]
    assert source["revision"] == second and source["image_column"] == "image"
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(
        FileNotFoundError,
        match=r"^hf:zoo/never@main is not in the Hub cache and the Hub cannot be "
        r"reached \(offline: HF_HUB_OFFLINE is set",
    ):
        load_dataset("hf:zoo/never")


def test_items_are_the_pushed_images_resized_with_labels_from_either_kind_of_column(tmp_path, api):
    push(api, tmp_path, "zoo/strings", 12, seed=3, columns="strings", split="validation")
    data, _ = load_dataset("hf:zoo/strings:validation", image_size=16, channels=3, options={"label_column": "kind"})
    assert data.source["image_column"] == "pixels" and data.classes == sorted(CLASSES)  # plain values: sorted
    assert data.labels.tolist() == [sorted(CLASSES).index(CLASSES[3 - i % 4]) for i in range(12)]
    from PIL import Image

    from ganzoo.data.folder import pil_to_model_range

    rng = np.random.default_rng(3)
    first = Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8))
    assert data[0].shape == (3, 16, 16) and torch.equal(data[0], pil_to_model_range(first, 16, 3))
    assert torch.equal(torch.stack(data.__getitems__([0, 5])), torch.stack([data[0], data[5]]))
    by_class, _ = load_dataset("hf:zoo/strings", image_size=16)  # the only split, though not "train"
    assert json.loads(json.dumps(by_class.source))["split"] == "validation"  # as config.json will hold it
    assert by_class.classes == CLASSES and by_class.labels.tolist() == [i % 4 for i in range(12)]  # the ClassLabel


def test_unknown_repo_split_and_image_column_are_clear_errors(tmp_path, api, monkeypatch):
    push(api, tmp_path, REPO, 8, seed=4)
    push(api, tmp_path, "zoo/numbers", 8, seed=5, columns="numbers")
    push(api, tmp_path, "zoo/partial", 8, seed=6, unlabelled=2)
    with pytest.raises(FileNotFoundError, match=r"^Hub data set 'zoo/missing' not found \(or it is private"):
        load_dataset("hf:zoo/missing")
    with pytest.raises(FileNotFoundError, match=rf"^Hub data set '{REPO}' has no revision 'nope'$"):
        load_dataset(f"hf:{REPO}@nope")
    with pytest.raises(
        ValueError,
        match=rf"^hf:{REPO}@\w{{12}} has no split 'test'; its splits: train \(name one as "
        rf"hf:{REPO}:SPLIT\)$",
    ):
        load_dataset(f"hf:{REPO}:test")
    with pytest.raises(
        ValueError,
        match=r"^hf:zoo/numbers@\w{12} has no image column; its columns: x \(Value\), "
        r"label \(ClassLabel\): name the images with --image-column$",
    ):
        load_dataset("hf:zoo/numbers")
    with pytest.raises(ValueError, match=r"has no column 'img'; its columns: image \(Image\), label \(ClassLabel\)"):
        load_dataset(f"hf:{REPO}", options={"image_column": "img"})
    with pytest.raises(ValueError, match=r"^column 'x' of hf:zoo/numbers@\w{12} does not hold images"):
        load_dataset("hf:zoo/numbers", options={"image_column": "x"})
    assert load_dataset("hf:zoo/partial")[0].labels is None  # found, not asked for: unconditional runs still train
    with pytest.raises(ValueError, match=r"^label column 'label' of hf:zoo/partial@\w{12} has rows without a label$"):
        load_dataset("hf:zoo/partial", options={"label_column": "label"})
    with pytest.raises(ValueError, match=r"^hf:not a repo does not name a Hub data set"):
        load_dataset("hf:not a repo")
    monkeypatch.setitem(sys.modules, "datasets", None)  # as if the extra were not installed
    with pytest.raises(
        ValueError,
        match=r"need the datasets library, which is not installed: "
        r'pip install "torch-ganzoo\[hub-data\]"$',
    ):
        load_dataset(f"hf:{REPO}")


def test_column_options_are_refused_where_the_spec_takes_none(tmp_path):
    out = run_ganzoo("train", "dcgan", "--data", "mnist-5k", "--image-column", "img", "--out", str(tmp_path / "r"))
    assert out.returncode == 1 and not (tmp_path / "r").exists()
    assert out.stderr.strip().splitlines() == [
        "Error: data spec 'mnist-5k' takes no --image-column option (image_column)"
    ]
