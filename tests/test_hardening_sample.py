"""Sampling sizes and output files: large requests stream or are refused before they allocate, seeds keep their
samples, and `ganzoo sample -o` never writes through a link nor into a place it cannot write."""

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import ganzoo
from ganzoo.cli import cli

BOUND_MB = 300  # peak resident memory a refused or streamed request may add to a small one

# Runs `ganzoo ARGS` in a child, kills it once it passes the memory bound (so that an unbounded allocation cannot
# take the machine) or once STOP_FILES files are in STOP_DIR (a stream that is known to go on), and prints the
# child's peak resident memory from getrusage: the driver has no other children, so ru_maxrss is the child's.
DRIVER = r"""
import json, os, resource, subprocess, sys, time
args, limit_kb, stop_dir, stop_files = json.loads(sys.argv[1])
child = subprocess.Popen([sys.executable, "-m", "ganzoo", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
killed = None
while child.poll() is None:
    try:
        rss = int(next(l for l in open(f"/proc/{child.pid}/status") if l.startswith("VmRSS:")).split()[1])
    except (OSError, StopIteration):
        rss = 0
    if limit_kb and rss > limit_kb:
        killed = "memory"
    elif stop_dir and os.path.isdir(stop_dir) and len(os.listdir(stop_dir)) >= stop_files:
        killed = "files"
    if killed:
        child.kill()
        break
    time.sleep(0.05)
out, err = child.communicate()
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": child.returncode, "peak_kb": peak, "killed": killed, "stderr": err.decode()[-20000:]}))
"""


def peak_run(args: list[str], cwd: Path, *, limit_kb: int = 0, stop_dir: str = "", stop_files: int = 0) -> dict:
    """Run `ganzoo ARGS` in ``cwd``; its exit code, peak RSS (KiB), stderr and why it was killed, if it was."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    spec = json.dumps([args, limit_kb, stop_dir, stop_files])
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, spec], cwd=cwd, capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def baseline_kb(tmp_path_factory) -> int:
    """The peak RSS of a small `ganzoo sample` (import, model load, a 2-image grid)."""
    cwd = tmp_path_factory.mktemp("base")
    result = peak_run(["sample", "dcgan-mnist", "-n", "2", "-o", "small.png"], cwd)
    assert result["rc"] == 0, result["stderr"]
    return result["peak_kb"]


# ---- the same samples, batch by batch ------------------------------------------------------------------


def test_noise_drawn_in_batches_is_the_noise_of_one_draw():
    """z_batches continues one torch.randn/rand draw exactly (values and the generator's state after), for
    sizes that are and are not multiples of 16 numbers, batches of 1 and last draws under 16 numbers."""
    from ganzoo.latent import draw_z, z_batches

    sizes = [1, 2, 3, 7, 17, 33, 100, 513, 1031]
    shapes = [(1,), (2,), (3,), (10,), (100,), (128,), (7, 1, 1), (512,)]
    for n, shape, batch, t in itertools.product(sizes, shapes, [1, 3, 5, 16, 100, 512], [None, 0.5]):
        whole_rng, batch_rng = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
        whole = draw_z(n, shape, whole_rng, t)
        parts = list(z_batches(n, shape, batch_rng, t, batch))
        assert [len(p) for p in parts] == [len(p) for p in whole.split(batch)], (n, shape, batch)
        assert torch.equal(torch.cat(parts), whole), (n, shape, batch, t)
        assert torch.equal(batch_rng.get_state(), whole_rng.get_state()), (n, shape, batch, t)


@pytest.mark.parametrize("name", ["dcgan-mnist", "sngan-mnist", "stylegan2-mnist"])
def test_sample_batches_are_the_samples(name):
    """sample_batches yields model.sample's samples; a conditional model's labels still follow all of z."""
    model = ganzoo.load(name)
    whole = model.sample(23, seed=4, batch_size=5)
    parts = list(model.sample_batches(23, seed=4, batch_size=5))
    assert [len(p) for p in parts] == [5, 5, 5, 5, 3]
    assert torch.equal(torch.cat(parts), whole)
    truncated = torch.cat(list(model.sample_batches(9, seed=1, truncation=0.5, batch_size=4)))
    assert torch.equal(truncated, model.sample(9, seed=1, truncation=0.5, batch_size=4))
    assert not truncated.requires_grad


def test_unseeded_sampling_advances_the_global_generator_past_labels():
    """seed=None draws from torch's global generator; afterwards it stands where one draw of z and labels left it."""
    model = ganzoo.load("sngan-mnist")
    torch.manual_seed(7)
    model.sample(6)
    after = torch.rand(4)
    torch.manual_seed(7)
    torch.randn(6, *model.nets["G"].latent_shape)
    torch.randint(0, 10, (6,))
    assert torch.equal(torch.rand(4), after)


# ---- the Python API: counts are ValueErrors, impossible sizes are refused before drawing ---------------------


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda m: m.sample(4, batch_size=0), "batch_size must be a positive integer, got 0"),
        (lambda m: m.sample(0), "n must be a positive integer"),
        (lambda m: m.sample(2.0), "n must be a positive integer"),
        (lambda m: m.walk(-1, 3), "rows must be a positive integer, got -1"),
        (lambda m: m.walk(2, 0), "steps must be a positive integer, got 0"),
        (lambda m: m.walk(2, 3, batch_size=0), "batch_size must be a positive integer"),
        (lambda m: list(m.sample_batches(3, batch_size=-2)), "batch_size must be a positive integer"),
    ],
)
def test_bad_counts_are_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call(ganzoo.load("dcgan-mnist"))


def test_bad_counts_of_class_grids_and_style_mixing_are_value_errors():
    with pytest.raises(ValueError, match="per_class must be a positive integer, got -1"):
        ganzoo.load("sngan-mnist").class_grid(-1)
    style = ganzoo.load("stylegan2-mnist")
    for call in (lambda: style.style_mix(0, 2), lambda: style.style_mix(2, -1)):
        with pytest.raises(ValueError, match="(rows|cols) must be a positive integer"):
            call()


@pytest.mark.parametrize(
    "name,call",
    [
        ("dcgan-mnist", lambda m: m.sample(10**9)),
        ("dcgan-mnist", lambda m: m.sample(10**12)),
        ("sngan-mnist", lambda m: m.class_grid(10**9)),
        ("dcgan-mnist", lambda m: m.walk(8, 10**9)),
        ("stylegan2-mnist", lambda m: m.style_mix(10**6, 10**6)),
    ],
)
def test_results_larger_than_memory_are_refused_before_drawing(name, call):
    with pytest.raises(ValueError, match=r"GiB \(noise and output\), more than this machine's .* GiB of memory"):
        call(ganzoo.load(name))


# ---- the CLI: one line before allocating, streaming into folders ------------------------------------------------


@pytest.mark.parametrize(
    "args,line",
    [
        (["dcgan-mnist", "-n", "10000000", "-o", "big.png"], "over Pillow's limit of 89,478,485"),
        (["dcgan-mnist", "-n", "1000000000000", "-o", "big.png"], "give -o a folder"),
        (["dcgan-mnist", "-n", "1000000000000", "-o", "many"], "PNG files are more than the"),
        (["sngan-mnist", "--class-grid", "-n", "1000000000", "-o", "grid.png"], "over Pillow's limit"),
        (["sngan-mnist", "--class-grid", "-n", "1000000000", "-o", "many"], "PNG files are more than the"),
        (["dcgan-mnist", "--interpolate", "1000000", "-o", "walk.png"], "a smaller -n or K"),
        (["stylegan2-mnist", "--mix", "-n", "1000000", "-o", "mix.png"], "ask for a smaller -n"),
    ],
)
def test_sizes_that_cannot_be_written_are_one_line(tmp_path, monkeypatch, args, line):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["sample", *args])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert line in result.output and result.output.count("\n") == 1, result.output
    assert not [p for p in tmp_path.iterdir()], "nothing is written"


@pytest.mark.parametrize(
    "args",
    [
        ["dcgan-mnist", "-n", "10000000", "-o", "big.png"],
        ["dcgan-mnist", "--interpolate", "1000000", "-o", "walk.png"],
        ["stylegan2-mnist", "--mix", "-n", "1000000", "-o", "mix.png"],
    ],
)
def test_refusals_come_before_the_allocation(tmp_path, baseline_kb, args):
    result = peak_run(["sample", *args], tmp_path, limit_kb=baseline_kb + BOUND_MB * 1024)
    assert result["killed"] is None, f"passed {BOUND_MB} MB above a small sample before refusing"
    assert result["rc"] == 1 and result["stderr"].startswith("Error: "), result["stderr"]
    assert result["stderr"].count("\n") == 1, result["stderr"]
    assert result["peak_kb"] - baseline_kb < BOUND_MB * 1024


def test_a_folder_of_ten_million_samples_is_written_as_it_is_made(tmp_path, baseline_kb):
    """-n 10000000 into a folder: PNGs appear batch after batch, and memory stays near a small sample's."""
    result = peak_run(
        ["sample", "dcgan-mnist", "-n", "10000000", "-o", "stream"],
        tmp_path,
        limit_kb=baseline_kb + BOUND_MB * 1024,
        stop_dir="stream",
        stop_files=1100,  # more than two batches of 512
    )
    assert result["killed"] == "files", result
    assert result["peak_kb"] - baseline_kb < BOUND_MB * 1024


def test_a_streamed_folder_holds_the_samples_of_the_seed(tmp_path):
    """The folder's PNGs are model.sample's images, in order, for the same seed and label."""
    runner = CliRunner()
    result = runner.invoke(
        cli, ["sample", "sngan-mnist", "-n", "5", "--label", "3", "--seed", "2", "-o", str(tmp_path / "f")]
    )
    assert result.exit_code == 0, result.output
    expected = ganzoo.load("sngan-mnist").sample(5, seed=2, labels=3)
    for i, image in enumerate(expected):
        png = torch.tensor(np.asarray(Image.open(tmp_path / "f" / f"{i:05d}.png").convert("L")), dtype=torch.float32)
        want = image.add(1).div(2).clamp(0, 1).mul(255).add(0.5).clamp(0, 255).byte().float()[0]
        assert torch.equal(png, want)
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == [f"{i:05d}.png" for i in range(5)]


# ---- output files: links, pseudo file systems, immutable files ---------------------------------------------------


def test_a_link_in_the_output_folder_is_never_written_through(tmp_path):
    """A symlink 00000.png -> a file outside -o: refused in one line, the outside file unchanged."""
    outside = tmp_path / "outside.png"
    Image.new("L", (4, 4), 7).save(outside)
    before = outside.read_bytes()
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "00000.png").symlink_to(outside)
    result = CliRunner().invoke(cli, ["sample", "dcgan-mnist", "-n", "2", "-o", str(folder)])
    assert result.exit_code == 1 and "is a symbolic link" in result.output, result.output
    assert outside.read_bytes() == before and (folder / "00000.png").is_symlink()
    grid_link = tmp_path / "grid.png"
    grid_link.symlink_to(outside)
    result = CliRunner().invoke(cli, ["sample", "dcgan-mnist", "-n", "2", "-o", str(grid_link)])
    assert result.exit_code == 1 and "is a symbolic link" in result.output, result.output
    assert outside.read_bytes() == before


def test_save_grid_replaces_a_link_instead_of_following_it(tmp_path):
    """A link that appears at the path after the checks (a race) is replaced: the file it points at stays."""
    from ganzoo.engine.outputs import save_grid

    outside = tmp_path / "outside.png"
    outside.write_bytes(b"not ganzoo's")
    link = tmp_path / "00000.png"
    link.symlink_to(outside)
    save_grid(torch.zeros(1, 1, 8, 8), link)
    assert outside.read_bytes() == b"not ganzoo's"
    assert not link.is_symlink() and Image.open(link).size == (8, 8)
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


@pytest.mark.parametrize("out", ["/proc/ganzoo-test.png", "/proc/ganzoo-test", "/sys/ganzoo-test.png"])
def test_pseudo_file_systems_are_refused_in_one_line(out):
    result = CliRunner().invoke(cli, ["sample", "dcgan-mnist", "-n", "2", "-o", out])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.output.startswith("Error: cannot ") and result.output.count("\n") == 1, result.output


def test_an_immutable_file_is_refused_in_one_line(tmp_path):
    target = tmp_path / "grid.png"
    Image.new("L", (4, 4), 7).save(target)
    chattr = shutil.which("chattr")
    if not chattr or subprocess.run([chattr, "+i", str(target)], capture_output=True).returncode:
        pytest.skip("this file system or user cannot make a file immutable")
    try:
        result = CliRunner().invoke(cli, ["sample", "dcgan-mnist", "-n", "2", "-o", str(target)])
    finally:
        subprocess.run([chattr, "-i", str(target)], check=True)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.output == f"Error: cannot write {target}: Operation not permitted; choose another -o\n"
