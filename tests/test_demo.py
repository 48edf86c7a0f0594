"""`ganzoo demo`: the page's callbacks, the Space files, and the page itself driven by a real headless browser."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import ganzoo
from ganzoo.demo import card_markdown, demo_command, space_files
from ganzoo.demo_app import Explorer, grid_image, image_tensor

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[1]


def _tiles(picture: Image.Image, size: int, grid: int) -> torch.Tensor:
    """A grid picture (2-pixel gaps, as grid_image draws; none around one image) -> its tiles (grid^2, 1, size, size)
    in [-1, 1]."""
    pixels = torch.from_numpy(np.asarray(picture.convert("L"), dtype="float32")) / 127.5 - 1  # (H, W)
    step, first = size + 2, 2 if grid > 1 else 0
    return torch.stack(
        [
            pixels[first + r * step : first + r * step + size, first + c * step : first + c * step + size]
            for r in range(grid)
            for c in range(grid)
        ]
    )[:, None]


def _digit_png(path: Path) -> Path:
    """A real digit from the bundled mnist-5k, as a grayscale PNG a user would upload."""
    from ganzoo.data.mnist import load_mnist5k

    digit = load_mnist5k(image_size=32, channels=1).tensor[0]  # (1, 32, 32) in [-1, 1]
    grid_image(digit[None], 1).save(path)  # one image: no gaps around it
    return path


# ---- the page's callbacks, without a browser ----


def test_samples_repeat_by_seed_and_follow_the_class_asked():
    explorer = Explorer(ganzoo.load("sngan-mnist"))
    assert explorer.classes == [str(d) for d in range(10)] and not explorer.style_based
    first, again, other = (explorer.samples(s, 3, 1.0, "3").tobytes() for s in (0, 0, 1))
    assert first == again and first != other
    assert explorer.samples(0, 3, 1.0, "3").size == (3 * 34 + 2,) * 2  # 3 x 3 tiles of 32 px, 2 px gaps
    from ganzoo.metrics.classifier import requested_digit_scores

    tiles = _tiles(explorer.samples(0, 5, 1.0, "7"), 32, 5)
    assert requested_digit_scores(tiles, torch.full((25,), 7))["requested"] >= 0.8
    with pytest.raises(ValueError, match="unknown class"):
        explorer.samples(0, 2, 1.0, "eleven")


def test_truncation_walk_and_style_mixing_of_a_style_based_model(tmp_path):
    explorer = Explorer(ganzoo.load("stylegan2-mnist"))
    assert explorer.style_based and not explorer.classes
    assert explorer.samples(0, 2, 1.0).tobytes() != explorer.samples(0, 2, 0.5).tobytes()
    gif = Image.open(explorer.walk(0, 6, 1.0))
    assert gif.format == "GIF" and gif.n_frames == 2 * 6 - 2  # there and back
    assert explorer.mix(0, 3).size == (4 * 34 + 2,) * 2  # a 4 x 4 table: 3 sources, 3 destinations


def test_translator_takes_an_uploaded_image_as_model_translate_does(tmp_path):
    model = ganzoo.load("cyclegan-mnist-inverted")
    explorer = Explorer(model)
    assert explorer.directions == ["a2b", "b2a"]
    upload = Image.open(_digit_png(tmp_path / "digit.png"))
    got = _tiles(explorer.translate(upload, "a2b"), 32, 1)
    want = model.translate(image_tensor(upload, 1, 32), "a2b").clamp(-1, 1)
    assert (got - want).abs().max() <= 1.01 / 127.5  # one 8-bit level
    assert got.mean() > image_tensor(upload, 1, 32).mean() + 0.5  # A to B: a white digit on black comes out inverted
    one_way = Explorer(ganzoo.load("pix2pix-mnist-thick"))
    assert one_way.directions == ["a2b"] and one_way.translate(upload).size == (32, 32)  # no direction switch


def test_card_shows_family_data_metrics_with_protocol_and_licence(tmp_path):
    card = card_markdown(ganzoo.load("dcgan-mnist"), "dcgan-mnist")
    for text in ("**Family**: dcgan", "mnist-5k", "recognisable", "protocol: 1,000 samples", "**Licence**: MIT"):
        assert text in card
    folder = tmp_path / "published"
    ganzoo.create("dcgan", image_size=16, channels=1, ngf=8, ndf=8).save_pretrained(folder)
    assert "**licence**: mit" in card_markdown(ganzoo.load(str(folder)), str(folder)).lower()


def test_write_space_writes_an_app_that_loads_the_hub_model(tmp_path):
    files = space_files("org/my-dcgan")
    assert "make_demo('hf-hub:org/my-dcgan')" in files["app.py"] and "sdk: gradio" in files["README.md"]
    assert files["requirements.txt"].strip().splitlines()[-1] == "torch-ganzoo[demo]"
    result = CliRunner().invoke(demo_command, ["--write-space", str(tmp_path / "space"), "dcgan-mnist"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "space").iterdir()) == ["README.md", "app.py", "requirements.txt"]
    compile((tmp_path / "space" / "app.py").read_text(), "app.py", "exec")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "app.py").write_text("print('mine')\n")
    result = CliRunner().invoke(demo_command, ["--write-space", str(tmp_path / "other"), "dcgan-mnist"])
    assert result.exit_code == 1 and "not written by ganzoo" in result.output
    assert (tmp_path / "other" / "app.py").read_text() == "print('mine')\n"
    (tmp_path / "other" / "app.py").write_text("# my ganzoo app\n")  # naming ganzoo does not make it ganzoo's
    result = CliRunner().invoke(demo_command, ["--write-space", str(tmp_path / "other"), "dcgan-mnist"])
    assert result.exit_code == 1 and (tmp_path / "other" / "app.py").read_text() == "# my ganzoo app\n"
    result = CliRunner().invoke(demo_command, ["--write-space", str(tmp_path / "space"), "dcgan-mnist"])
    assert result.exit_code == 0, result.output  # its own files are rewritten


# ---- the page in a real headless browser ----


def _browser_missing() -> str | None:
    for module, extra in (("gradio", "demo"), ("playwright", "playwright")):
        try:
            __import__(module)
        except ImportError:
            return f"the browser tests need {module!r} (pip install {extra})"
    if not os.path.exists(CHROMIUM):
        return "the browser tests need Debian's chromium (apt-get install chromium)"
    return None


needs_browser = pytest.mark.skipif(_browser_missing() is not None, reason=_browser_missing() or "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def serve():
    """Start `ganzoo demo NAME` on a free loopback port; yields a function NAME -> URL; stops them after."""
    procs = []

    def start(name: str) -> str:
        port = _free_port()
        env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
        proc = subprocess.Popen(
            [sys.executable, "-m", "ganzoo.demo", name, "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 180  # a loaded 2-core machine imports torch and Gradio slowly
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"ganzoo demo {name} exited: {proc.stdout.read()}")
            try:
                urllib.request.urlopen(url, timeout=2)
                return url
            except OSError:
                time.sleep(0.5)
        pytest.fail(f"ganzoo demo {name} did not answer on {url}")

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS, headless=True)
        yield chromium
        chromium.close()


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    return page


def _image_after(page, selector: str, old_src: str | None = None) -> tuple[str, Image.Image]:
    """The src and picture of the image in ``selector`` once it shows (and differs from ``old_src``)."""
    page.wait_for_function(
        "([sel, old]) => { const i = document.querySelector(sel + ' img'); return i && i.src && i.src !== old; }",
        arg=[selector, old_src or ""],
        timeout=120_000,
    )
    src = page.locator(f"{selector} img").first.get_attribute("src")
    body = page.request.get(src).body()
    return src, Image.open(io.BytesIO(body))


@needs_browser
@pytest.mark.slow
def test_browser_dcgan_page_shows_samples_and_a_new_seed_changes_them(serve, browser, tmp_path):
    url = serve("dcgan-mnist")
    assert url.startswith("http://127.0.0.1:")
    page = _open(browser, url)
    src, first = _image_after(page, "#samples")  # drawn as the page opens
    assert first.tobytes() == grid_image(ganzoo.load("dcgan-mnist").sample(16, seed=0), 4).convert(first.mode).tobytes()
    assert "recognisable" in page.locator("#card").inner_text()
    page.locator("#seed input").fill("1")
    page.locator("#generate").click()
    _, second = _image_after(page, "#samples", src)
    assert second.tobytes() != first.tobytes()
    page.locator("#walk").click()
    _, walk = _image_after(page, "#walk-gif")
    assert walk.format == "GIF" and walk.n_frames == 2 * 12 - 2  # the latent walk, animated, there and back
    shot = Path(os.environ.get("GANZOO_DEMO_SCREENSHOT", tmp_path / "demo.png"))
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    page.close()


@needs_browser
@pytest.mark.slow
def test_browser_class_picker_makes_the_conditional_model_draw_that_digit(serve, browser):
    from ganzoo.metrics.classifier import requested_digit_scores

    page = _open(browser, serve("sngan-mnist"))
    src, _ = _image_after(page, "#samples")
    for digit in ("3", "7"):
        page.locator("#class input").click()
        page.get_by_role("option", name=digit, exact=True).click()
        page.locator("#generate").click()
        src, picture = _image_after(page, "#samples", src)
        scores = requested_digit_scores(_tiles(picture, 32, 4), torch.full((16,), int(digit)))
        assert scores["requested"] >= 0.75, (digit, scores)  # the card: 0.978 of digits drawn as asked
    page.close()


@needs_browser
@pytest.mark.slow
def test_browser_upload_to_the_translator_returns_its_translation(serve, browser, tmp_path):
    page = _open(browser, serve("cyclegan-mnist-inverted"))
    digit = _digit_png(tmp_path / "digit.png")
    page.locator("#upload input[type=file]").set_input_files(str(digit))
    _, picture = _image_after(page, "#translation")
    model = ganzoo.load("cyclegan-mnist-inverted")
    want = model.translate(image_tensor(Image.open(digit), 1, 32), "a2b").clamp(-1, 1)
    assert (_tiles(picture, 32, 1) - want).abs().max() <= 1.01 / 127.5  # one 8-bit level
    page.close()


def test_demo_binds_loopback_by_default_and_share_passes_through(monkeypatch):
    from ganzoo import demo

    launched = []

    class FakePage:
        def queue(self):
            return self

        def launch(self, **options):
            launched.append(options)

    monkeypatch.setattr(demo, "make_demo", lambda name, **kw: FakePage())
    assert CliRunner().invoke(demo_command, ["dcgan-mnist"]).exit_code == 0
    assert CliRunner().invoke(demo_command, ["dcgan-mnist", "--share", "--port", "8000"]).exit_code == 0
    assert launched[0]["server_name"] == "127.0.0.1" and launched[0]["share"] is False
    assert launched[1]["share"] is True and launched[1]["server_port"] == 8000


def test_card_of_a_run_folder_names_family_and_data(tmp_path):
    run = ganzoo.train(
        "dcgan",
        "mnist-5k",
        steps=2,
        out=str(tmp_path / "run"),
        device="cpu",
        progress="off",
        sample_every=0,
        log_every=1,
        batch_size=4,
        image_size=16,
        channels=1,
        nz=8,
        ngf=8,
        ndf=8,
    )
    card = card_markdown(ganzoo.load(str(run)), str(run))
    assert "**Family**: dcgan" in card and "mnist-5k" in card and "not measured" in card
    assert Explorer(ganzoo.load(str(run))).samples(0, 2).size == (2 * 18 + 2,) * 2


def test_a_flat_data_model_shows_its_points():
    explorer = Explorer(ganzoo.create("wgan-gp", dim=2, hidden=16, depth=1))
    assert not explorer.images and not explorer.classes
    picture = explorer.samples(0, 4)
    assert picture.size == (256, 256) and 0 < np.asarray(picture).mean() < 255  # white dots on black
