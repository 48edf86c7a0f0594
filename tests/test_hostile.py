"""Hostile and corrupt input on the load path: every refusal is one clear line, nothing large is allocated."""

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file, save_file

import ganzoo
from ganzoo import plugins
from ganzoo.cli import cli
from ganzoo.hf import ModelNameError, check_hub_name
from ganzoo.pretrained.folder import load_folder
from ganzoo.pretrained.weights import WeightsError

SMALL = dict(image_size=16, channels=1, ngf=8, ndf=8)


@pytest.fixture
def published(tmp_path):
    torch.manual_seed(0)
    return ganzoo.create("dcgan", **SMALL).save_pretrained(tmp_path / "pub", samples=False)


def _edit_config(folder: Path, **changes) -> None:
    record = json.loads((folder / "config.json").read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            record[key].update(value)
        else:
            record[key] = value
    (folder / "config.json").write_text(json.dumps(record))


def _fails_cleanly(*args: str) -> str:
    """Run the CLI in-process; it must exit 1 with one "Error: ..." line and no traceback. Returns the line."""
    result = CliRunner().invoke(cli, list(args))
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.fixture
def real_builds(monkeypatch):
    """Every DCGAN build that allocates real tensors (not on the meta device), by image size."""
    import ganzoo_dcgan.models

    calls = []
    build = ganzoo_dcgan.models.build

    def recording(config):
        if torch.empty(0).device.type != "meta":
            calls.append(config.image_size)
        return build(config)

    monkeypatch.setattr(ganzoo_dcgan.models, "build", recording)
    return calls


# ---- a config.json out of proportion with its weights ----------------------------------------------


def test_huge_image_size_is_refused_before_any_network_is_built(published, real_builds):
    _edit_config(published, config={"image_size": 2048})
    with pytest.raises(  # the config check refuses the size itself now, before networks are even built on meta
        WeightsError,
        match=r"config.json has a config that 'dcgan' refuses: image_size=2048 cannot be made by this "
        r"architecture: use a power of two >= 16 and <= 1024",
    ):
        load_folder(published)
    assert real_builds == []  # refused on the meta device: nothing allocated


def test_networks_absent_from_the_file_cannot_be_made_huge(published, real_builds):
    _edit_config(published, config={"ndf": 2048})  # G still matches the file; D (not in it) would be 0.5 GB
    with pytest.raises(
        WeightsError,
        match=r"config.json describes networks of [\d,]+ MiB, out of proportion with "
        r"the [\d.]+ MiB of .*model.safetensors",
    ):
        load_folder(published)
    assert real_builds == []


def test_a_matching_folder_is_built_for_real_once(published, real_builds):
    model = load_folder(published)
    assert real_builds == [16] and model.nets["G"].main[0].weight.device.type == "cpu"


def test_meta_networks_have_the_real_networks_tensors_for_every_variant():
    from ganzoo.api import get_variant
    from ganzoo.building import build_networks, meta_networks
    from ganzoo.config import make_config

    def tensors(nets):
        return {f"{n}.{k}": (tuple(v.shape), v.dtype) for n, net in nets.items() for k, v in net.state_dict().items()}

    for name in ganzoo.list_variants():
        variant = get_variant(name)
        config = make_config(variant.load_config_class(), {})
        meta = meta_networks(variant, config)
        assert meta is not None and all(v.is_meta for net in meta.values() for v in net.state_dict().values()), name
        assert tensors(meta) == tensors(build_networks(variant, config)), name


def test_loading_does_not_import_torchs_compiler_stack(published):
    """On meta, weight initialisers would import torch._dynamo: seconds added to every load."""
    import subprocess
    import sys

    code = (
        f"import sys, ganzoo; ganzoo.load({str(published)!r}).sample(2, seed=0); print('torch._dynamo' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr


def test_a_builder_that_needs_real_tensors_still_loads(tmp_path):
    def build(config):
        from ganzoo_dcgan.models import build as dcgan_build

        nets = dcgan_build(config)
        torch.ones(1).sum().item()  # data-dependent: cannot run on the meta device
        return nets

    class MetaShy:
        @ganzoo.hookimpl
        def ganzoo_register_variants(self, register):
            register(
                ganzoo.Variant(
                    "meta-shy",
                    "needs real tensors",
                    "-",
                    config="ganzoo_dcgan.config:DCGANConfig",
                    build=build,
                    step="ganzoo_dcgan.step:DCGANStep",
                )
            )

    plugins.register_plugin(MetaShy(), "meta-shy")
    torch.manual_seed(3)
    model = ganzoo.create("meta-shy", **SMALL)
    folder = model.save_pretrained(tmp_path / "shy", samples=False)
    loaded = ganzoo.load(str(folder))
    assert torch.equal(loaded.nets["G"].main[0].weight, model.nets["G"].main[0].weight)
    _edit_config(folder, config={"ngf": 16})  # checked once built, all the same
    with pytest.raises(
        WeightsError,
        match=r"tensor 'G.main.0.weight' .* has shape \(100, 16, 4, 4\) but 'meta-shy' "
        r"with this config expects \(100, 32, 4, 4\)",
    ):
        load_folder(folder)


# ---- weights of the wrong dtype, NaN and Inf -------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.bool, torch.int32, torch.complex64, torch.float8_e4m3fn])
def test_weights_that_are_not_real_floats_are_refused(published, dtype):
    tensors = load_file(published / "model.safetensors")
    tensors["G.main.0.weight"] = tensors["G.main.0.weight"].to(dtype)
    save_file(tensors, published / "model.safetensors")
    name = str(dtype).removeprefix("torch.")
    with pytest.raises(
        WeightsError,
        match=rf"tensor 'G.main.0.weight' in .*model.safetensors is {name}, but 'dcgan' "
        rf"holds float32 or float16 or bfloat16 or float64 there",
    ):
        load_folder(published)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_float_widths_load_converted(published, dtype):
    tensors = load_file(published / "model.safetensors")
    stored = tensors["G.main.0.weight"].to(dtype)
    tensors["G.main.0.weight"] = stored
    save_file(tensors, published / "model.safetensors")
    weight = load_folder(published).nets["G"].main[0].weight
    assert weight.dtype == torch.float32 and torch.equal(weight, stored.float())


@pytest.mark.parametrize("key, value", [("G.main.0.weight", float("nan")), ("G.main.1.running_var", float("inf"))])
def test_non_finite_weights_are_refused(published, key, value):
    tensors = load_file(published / "model.safetensors")
    tensors[key][0] = value
    save_file(tensors, published / "model.safetensors")
    with pytest.raises(WeightsError, match=rf"tensor '{key}' in .*model.safetensors holds NaN or Inf values"):
        load_folder(published)
    line = _fails_cleanly("sample", str(published), "-n", "2", "-o", str(published.parent / "x.png"))
    assert key in line and not (published.parent / "x.png").exists()


# ---- one line, exit 1, no traceback ---------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"config": "abc"}, "config.json: 'config' must be a JSON object of config values, got \"abc\""),
        ({"networks": 5}, "config.json: 'networks' must be a list of network names such as [\"G\"], got 5"),
        ({"networks": ["G", "Z"]}, "model.safetensors holds networks ['Z'] that variant 'dcgan' does not have"),
        ({"config": {"ngf": "wide"}}, "config.json has a config that 'dcgan' refuses"),
    ],
)
def test_malformed_config_json_is_one_line_naming_the_file(published, changes, message):
    _edit_config(published, **changes)
    line = _fails_cleanly("sample", str(published), "-o", str(published.parent / "x.png"))
    assert message in line and str(published) in line


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, "\xff\xfe not utf-8", '{"variant": 3}'],
    ids=["deeply-nested", "not-utf8", "variant-not-a-string"],
)
def test_broken_config_json_names_the_file(published, text):
    (published / "config.json").write_bytes(text.encode("latin-1"))
    line = _fails_cleanly("sample", str(published), "-o", str(published.parent / "x.png"))
    assert str(published / "config.json") in line


def test_an_oversized_config_json_is_not_read(published):
    (published / "config.json").write_text(json.dumps({"variant": "dcgan", "pad": "x" * (2 << 20)}))
    assert "far too large for a ganzoo config.json" in _fails_cleanly("sample", str(published), "-o", "x.png")


def _run_folder(tmp_path: Path) -> Path:
    """A run folder as the engine writes it: config.json and one checkpoint of every network."""
    torch.manual_seed(0)
    model = ganzoo.create("dcgan", **SMALL)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    record = {
        "variant": "dcgan",
        "config": model.config_dict(),
        "data": {"spec": "mnist-5k", "kind": "image"},
        "engine": {},
    }
    (run / "config.json").write_text(json.dumps(record))
    tensors = {f"net.{n}.{k}": v for n, net in model.nets.items() for k, v in net.state_dict().items()}
    save_file(tensors, run / "checkpoints" / "step-000000002.safetensors", metadata={"ganzoo": "{}"})
    return run


def test_a_corrupt_last_checkpoint_is_one_line_naming_it(tmp_path):
    run = _run_folder(tmp_path)
    assert ganzoo.load(str(run)).nets["G"].main[0].weight.shape == (100, 16, 4, 4)
    last = run / "checkpoints" / "step-000000002.safetensors"
    last.write_bytes(last.read_bytes()[:-100])
    line = _fails_cleanly("sample", str(run), "-o", str(tmp_path / "x.png"))
    assert str(last) in line and "corrupt or truncated" in line


def test_a_checkpoint_that_fails_its_own_checks_is_reported_naming_it(tmp_path, monkeypatch):
    import ganzoo.engine.checkpoint as checkpoint

    run = _run_folder(tmp_path)

    def failing(path):
        raise ValueError("checksum mismatch in tensor 'net.G.main.0.weight'\nmore detail")

    monkeypatch.setattr(checkpoint, "read_checkpoint", failing)
    with pytest.raises(
        WeightsError, match=r"step-000000002.safetensors: checksum mismatch in tensor 'net.G.main.0.weight'$"
    ):
        ganzoo.load(str(run))
    assert "checksum mismatch" in _fails_cleanly("sample", str(run), "-o", str(tmp_path / "x.png"))


def _plugin_with_build(build) -> None:
    class Odd:
        @ganzoo.hookimpl
        def ganzoo_register_variants(self, register):
            register(
                ganzoo.Variant(
                    "odd",
                    "odd builder",
                    "-",
                    config="ganzoo_dcgan.config:DCGANConfig",
                    build=build,
                    step="ganzoo_dcgan.step:DCGANStep",
                )
            )

    plugins.register_plugin(Odd(), "odd-plugin")


@pytest.mark.parametrize(
    "returned, shown",
    [
        (lambda: [torch.nn.Linear(1, 1)], "returned list"),
        (lambda: {"G": "not a module"}, "returned {'G': str}"),
        (lambda: {}, "returned {}"),
    ],
)
def test_a_builder_returning_no_networks_is_that_plugins_error(published, returned, shown):
    _plugin_with_build(lambda config: returned())
    _edit_config(published, variant="odd")
    line = _fails_cleanly("sample", str(published), "-o", str(published.parent / "x.png"))
    assert f"variant 'odd' from plugin 'odd-plugin': its build(config) {shown}, not a dict of torch.nn.Module" in line


@pytest.mark.parametrize(
    "ref, error",
    [("no_such_module_xyz:build", "ModuleNotFoundError"), ("ganzoo_dcgan.models:no_such_build", "AttributeError")],
)
def test_an_unresolvable_reference_names_the_plugin_and_the_reference(published, ref, error):
    _plugin_with_build(ref)
    _edit_config(published, variant="odd")
    line = _fails_cleanly("sample", str(published), "-o", str(published.parent / "x.png"))
    assert f"variant 'odd' from plugin 'odd-plugin': its build {ref!r} cannot be loaded ({error}" in line


def test_a_builder_that_exits_is_that_plugins_error(published):
    def build(config):
        raise SystemExit(3)

    _plugin_with_build(build)
    _edit_config(published, variant="odd")
    line = _fails_cleanly("sample", str(published), "-o", str(published.parent / "x.png"))
    assert "variant 'odd' from plugin 'odd-plugin' failed to build its networks: SystemExit: 3" in line


# ---- names: catalog, folders, Hub ids ---------------------------------------------------------------


def test_a_bare_catalog_name_means_the_catalog_even_beside_a_folder_of_that_name(published, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    published.rename(tmp_path / "dcgan-mnist")  # a 16x16 model where the catalog's is 32x32
    with pytest.warns(
        UserWarning,
        match=r"'dcgan-mnist' is loaded from the catalog; a folder of that name is also "
        r"here: load it as './dcgan-mnist'",
    ):
        assert ganzoo.load("dcgan-mnist").config.image_size == 32
    assert ganzoo.load("./dcgan-mnist").config.image_size == 16
    assert ganzoo.load(Path("dcgan-mnist")).config.image_size == 16
    assert ganzoo.load(str(tmp_path / "dcgan-mnist")).config.image_size == 16
    result = CliRunner().invoke(cli, ["sample", "dcgan-mnist", "-n", "1", "-o", "one.png"])
    assert result.exit_code == 0 and "warning: 'dcgan-mnist' is loaded from the catalog" in result.stderr


@pytest.mark.parametrize(
    "name",
    [
        "hf-hub:../x",
        "hf-hub:org/../../x",
        "hf-hub:",
        "hf-hub:org/a b",
        "hf-hub:org/repo@../../../etc",
        "hf-hub:org/repo@/abs",
        "hf-hub:org/repo@a\\b",
        "hf-hub:org/repo@main/..",
        "hf-hub:org/repo@x;rm",
    ],
)
def test_invalid_hub_names_are_refused_before_any_use(name, monkeypatch):
    import huggingface_hub

    def never(*args, **kwargs):
        raise AssertionError("snapshot_download reached")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", never)
    with pytest.raises(ModelNameError, match="is not a valid Hub (repo id|revision)"):
        ganzoo.load(name)
    assert "is not a valid Hub" in _fails_cleanly("sample", name, "-o", "x.png")


@pytest.mark.parametrize(
    "repo_id, revision",
    [
        ("org/model", "main"),
        ("gpt2", None),
        ("org/m.v2", "refs/pr/1"),
        ("org/m", "0123456789abcdef0123456789abcdef01234567"),
        ("org/m", "v1.0"),
    ],
)
def test_valid_hub_names_pass(repo_id, revision):
    check_hub_name(repo_id, revision)


@pytest.mark.parametrize("typed", ["dcgn", "DCGAN-MNIST", "dcgan-mnst"])
def test_unknown_names_suggest_catalog_models(typed):
    line = _fails_cleanly("sample", typed, "-o", "x.png")
    assert f"unknown pretrained model {typed!r}; did you mean " in line
    assert "'dcgan-mnist'" in line.split("did you mean ")[1].split("?")[0]


# ---- ganzoo sample's output -------------------------------------------------------------------------


def test_sample_needs_at_least_one(published, tmp_path):
    result = CliRunner().invoke(cli, ["sample", str(published), "-n", "0", "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Invalid value for '-n' / '--num': 0 is not in the range x>=1" in result.output


@pytest.mark.parametrize(
    "suffix, fmt",
    [(".jpg", "JPEG"), (".jpeg", "JPEG"), (".png", "PNG"), (".webp", "WEBP"), (".bmp", "BMP"), (".tif", "TIFF")],
)
def test_sample_writes_the_format_its_suffix_names(published, tmp_path, suffix, fmt):
    from PIL import Image

    out = tmp_path / f"grid{suffix}"
    result = CliRunner().invoke(cli, ["sample", str(published), "-n", "4", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and result.output.strip() == f"wrote 4 samples to {out}"
    with Image.open(out) as img:
        assert img.format == fmt and img.size == (2 * 16 + 3 * 2, 2 * 16 + 3 * 2)


def test_sample_refuses_unknown_suffixes_and_files_it_did_not_write(published, tmp_path):
    result = CliRunner().invoke(cli, ["sample", str(published), "-o", str(tmp_path / "x.txt")])
    assert result.exit_code == 2 and "has suffix '.txt', not an image format" in result.output
    assert not (tmp_path / "x.txt").exists()
    notes = tmp_path / "notes.png"
    notes.write_text("my notes, not an image")
    assert "notes.png exists and is not an image; ganzoo will not overwrite it" in _fails_cleanly(
        "sample", str(published), "-o", str(notes)
    )
    assert notes.read_text() == "my notes, not an image"
    plain = tmp_path / "plain"
    plain.write_text("a file, not a folder")
    assert "exists and is not an image folder" in _fails_cleanly("sample", str(published), "-o", str(plain))
    folder = tmp_path / "many"
    folder.mkdir()
    (folder / "00001.png").write_text("keep me")
    assert "00001.png exists and is not an image" in _fails_cleanly(
        "sample", str(published), "-n", "3", "-o", str(folder)
    )
    assert (folder / "00001.png").read_text() == "keep me" and not (folder / "00000.png").exists()


def test_sample_overwrites_its_own_images(published, tmp_path):
    out = tmp_path / "grid.png"
    for seed in ("0", "1"):
        result = CliRunner().invoke(cli, ["sample", str(published), "-n", "4", "--seed", seed, "-o", str(out)])
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["sample", str(published), "-n", "2", "-o", str(tmp_path / "many")])
    assert result.exit_code == 0 and sorted(p.name for p in (tmp_path / "many").iterdir()) == ["00000.png", "00001.png"]


def test_info_suggests_ignoring_case():
    with pytest.raises(ganzoo.UnknownNameError, match=r"no variant or model called 'DCGAN'; did you mean 'dcgan'"):
        ganzoo.info("DCGAN")


def test_save_pretrained_never_overwrites_a_folder_it_did_not_write(tmp_path):
    model = ganzoo.create("dcgan", image_size=16, channels=1, ngf=8, ndf=8)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "README.md").write_text("my notes\n")
    with pytest.raises(FileExistsError, match="is not empty and is not a ganzoo model folder"):
        model.save_pretrained(mine)
    assert [p.name for p in mine.iterdir()] == ["README.md"] and (mine / "README.md").read_text() == "my notes\n"
    ours = model.save_pretrained(tmp_path / "ours", samples=False)
    model.save_pretrained(ours, samples=False)  # over a model it saved before: fine
    assert ganzoo.load(str(ours)).config == model.config
