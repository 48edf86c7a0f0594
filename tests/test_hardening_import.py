"""Import and save, hardened: never over a folder ganzoo did not write as a published model, refusals before
allocation, one line for every hostile input, and nothing half-written or left behind after a kill."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch
from huggingface_hub import HfApi

import ganzoo
from ganzoo.engine.runfolder import RunLock, claim
from ganzoo.importers import import_checkpoint
from ganzoo.pretrained.folder import remove_stale_saves

from .test_hostile import _fails_cleanly, real_builds  # noqa: F401  (a fixture)
from .test_importers import (
    mmagic_checkpoint,
    mmagic_state,
    studiogan_checkpoint,
    studiogan_dcgan_state,
)

SMALL = dict(image_size=16, channels=1, ngf=8, ndf=8)
RAN: list = []


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mmagic_file(path: Path, seed: int = 0, **shape) -> Path:
    torch.manual_seed(seed)
    torch.save(mmagic_checkpoint(mmagic_state(**shape)), path)
    return path


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def _python(script: str, *args: str, **popen) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], env=env, **popen)


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# ---- 1. a run folder, a user's folder, a folder in use: never written ------------------------------------------


def _run_folder(path: Path) -> Path:
    """A training run folder as the engine leaves it: the run record and a checkpoints/ folder."""
    (path / "checkpoints").mkdir(parents=True)
    record = {
        "ganzoo_version": ganzoo.__version__,
        "variant": "dcgan",
        "config": SMALL,
        "networks": ["G", "D"],
        "data": {"spec": "mnist-5k"},
        "engine": {"steps": 10},
    }
    (path / "config.json").write_text(json.dumps(record, indent=2))
    return path


def test_import_and_save_pretrained_never_replace_a_run_folders_record(tmp_path):
    run = _run_folder(tmp_path / "run")
    before = (run / "config.json").read_bytes()
    file = _mmagic_file(tmp_path / "g.pth", channels=1)
    line = _fails_cleanly("import", f"mmagic-dcgan:{file}", "--out", str(run))
    assert f"{run} is a training run folder" in line and "Save into another folder" in line
    with pytest.raises(FileExistsError, match="is a training run folder: a published model saved there would replace"):
        ganzoo.create("dcgan", **SMALL).save_pretrained(run)
    assert (run / "config.json").read_bytes() == before and sorted(p.name for p in run.iterdir()) == [
        "checkpoints",
        "config.json",
    ]
    assert _hidden(tmp_path) == []


def test_a_folder_a_run_is_using_is_refused(tmp_path):
    folder = tmp_path / "starting"
    folder.mkdir()
    lock = RunLock(folder)  # a run that has taken its lock and written nothing else yet
    try:
        with pytest.raises(FileExistsError, match=r"run folder .*starting is in use by process \d+"):
            ganzoo.create("dcgan", **SMALL).save_pretrained(folder)
    finally:
        lock.release()
    assert [p.name for p in folder.iterdir()] == [".ganzoo.lock"]


def test_train_out_a_published_folder_says_what_it_is(tmp_path):
    published = ganzoo.create("dcgan", **SMALL).save_pretrained(tmp_path / "pub", samples=False)
    with pytest.raises(FileExistsError) as refused:
        claim(published, resume=False)
    message = str(refused.value)
    assert "is a published model folder" in message and "choose another --out" in message
    assert "delete" not in message


def test_files_a_user_added_beside_a_published_model_survive_a_new_save(tmp_path):
    folder = ganzoo.create("dcgan", **SMALL).save_pretrained(tmp_path / "pub", samples=False)
    (folder / "notes.txt").write_text("mine")
    (folder / "extra").mkdir()
    (folder / "extra" / "a.txt").write_text("also mine")
    other = ganzoo.create("dcgan", **SMALL)
    other.save_pretrained(folder, samples=False)
    assert (folder / "notes.txt").read_text() == "mine" and (folder / "extra" / "a.txt").read_text() == "also mine"
    loaded = ganzoo.load(str(folder)).nets["G"].state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in other.nets["G"].state_dict().items())
    assert _hidden(tmp_path) == []


# ---- 2. shapes and sizes on the meta device before anything is built ------------------------------------------

RSS_SCRIPT = """
    import json, resource, sys
    from click.testing import CliRunner
    from ganzoo.cli import cli

    warm, hostile, out = sys.argv[1:4]
    runner = CliRunner()
    first = runner.invoke(cli, ["import", f"mmagic-dcgan:{warm}", "--out", out + "-warm"])  # loads all import needs
    assert first.exit_code == 0, first.output
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = runner.invoke(cli, ["import", f"mmagic-dcgan:{hostile}", "--out", out])
    grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"code": result.exit_code, "output": result.output, "grew_mib": grew}))
"""


def test_an_expanded_tensor_in_a_tiny_file_is_refused_before_allocating(tmp_path):
    """A 15 KB file whose first weight is one stored (1, 16, 4, 4) map expanded to (2^18, 16, 4, 4): 256 MiB
    as a network, more as its copies; refused from the tensor's storage before any network is built."""
    sd = mmagic_state(nz=8, base=16, n_mid=1)
    sd["generator.noise2feat.conv.weight"] = torch.randn(1, 16, 4, 4).expand(2**18, 16, 4, 4)
    torch.save(mmagic_checkpoint(sd), tmp_path / "hostile.pth")
    assert (tmp_path / "hostile.pth").stat().st_size < 64_000
    _mmagic_file(tmp_path / "warm.pth", base=16)
    proc = _python(RSS_SCRIPT, str(tmp_path / "warm.pth"), str(tmp_path / "hostile.pth"), str(tmp_path / "out"),
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["code"] == 1, result["output"]
    assert (
        "tensor 'generator.noise2feat.conv.weight' of shape (262144, 16, 4, 4) is a view of 1,024 stored"
        in (result["output"])
    )
    assert result["grew_mib"] < 300, result
    assert not (tmp_path / "out").exists() and _hidden(tmp_path) == []


def test_converted_shapes_are_checked_on_the_meta_device_before_a_real_build(tmp_path, real_builds):  # noqa: F811
    sd = mmagic_state(channels=1)
    sd["generator.noise2feat.bn.running_mean"] = torch.zeros(33)  # one more than the layer's 32 channels
    with pytest.raises(ganzoo.importers.WeightsError, match=r"'generator.noise2feat.bn.running_mean' gives G.main.1"):
        ganzoo.importers.convert("mmagic-dcgan", mmagic_checkpoint(sd))
    assert real_builds == []  # nothing was built for real


# ---- 3. hostile inputs: one line each ----------------------------------------------------------------------------


def _studiogan_with(key, value):
    sd = studiogan_dcgan_state()
    sd[key] = value
    return studiogan_checkpoint(sd)


@pytest.mark.parametrize(
    "make, shown",
    [
        (lambda: _studiogan_with("blocks.0.0.deconv0.bias", torch.ones(32, dtype=torch.bool)), "is bool, not a float"),
        (
            lambda: _studiogan_with("blocks.0.0.deconv0.bias", torch.zeros(32).to(torch.float8_e4m3fn)),
            "is float8_e4m3fn, not a float",
        ),
        (lambda: _studiogan_with(3, torch.zeros(1)), "has the key 3 (int), not a tensor name"),
        (lambda: _studiogan_with(("a", "b"), torch.zeros(1)), "has the key ('a', 'b') (tuple)"),
    ],
    ids=["bool", "float8", "int-key", "tuple-key"],
)
def test_hostile_upstream_tensors_are_one_line(tmp_path, make, shown):
    torch.save(make(), tmp_path / "g.pth")
    line = _fails_cleanly("import", f"studiogan-dcgan:{tmp_path / 'g.pth'}", "--out", str(tmp_path / "out"))
    assert shown in line and "studiogan-dcgan" in line
    assert not (tmp_path / "out").exists() and _hidden(tmp_path) == []


@pytest.mark.parametrize(
    "path", ["org/repo/../../x.pth", "org/repo//etc/passwd", "org/repo/a\\..\\b.pth", "org/repo/./x"]
)
def test_hub_paths_that_leave_the_repo_are_one_line(tmp_path, hub, monkeypatch, path):
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    line = _fails_cleanly("import", f"mmagic-dcgan:hf-hub:{path}", "--out", str(tmp_path / "out"))
    assert "does not name a file in Hub repo 'org/repo'" in line and "no '..'" in line
    assert not (tmp_path / "out").exists()


def _ran(*args):
    RAN.append(args)


class Payload:
    def __reduce__(self):
        return (_ran, ("unpickled",))


@pytest.mark.parametrize("protocol", [2, 4])
def test_a_raw_pickle_refusal_names_the_global_it_asks_for(tmp_path, protocol):
    with open(tmp_path / "raw.pth", "wb") as f:
        pickle.dump({"state_dict": {}, "meta": Payload()}, f, protocol=protocol)
    line = _fails_cleanly("import", f"mmagic-dcgan:{tmp_path / 'raw.pth'}", "--out", str(tmp_path / "out"))
    assert f"(it asks for the global {__name__}._ran)" in line and "Re-running" not in line and "weights_only" in line
    assert RAN == []


# ---- 3. the network: a malformed pin before any request, a stalled server given up -------------------------------


@pytest.fixture
def stalling_server():
    """A loopback server that answers with headers and 1,000 of its 100,000 bytes, then sends nothing."""
    release, requests = threading.Event(), []

    class Stall(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"\x80" * 1000)
            self.wfile.flush()
            release.wait(60)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stall)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/g.pth", requests
    release.set()
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_malformed_pin_is_refused_before_any_request(tmp_path, stalling_server):
    url, requests = stalling_server
    line = _fails_cleanly("import", f"mmagic-dcgan:{url}", "--out", str(tmp_path / "out"), "--sha256", "zz")
    assert "a pinned sha256 is the file's full hash, 64 hex digits; got 'zz'" in line
    assert requests == []


def test_a_stalled_download_is_given_up_and_leaves_nothing(tmp_path, stalling_server, monkeypatch):
    url, requests = stalling_server
    monkeypatch.setattr("ganzoo.pretrained.upstream.DOWNLOAD_TIMEOUT", 1.0)
    outcome: list = []

    def attempt():
        try:
            import_checkpoint("mmagic-dcgan", url, tmp_path / "out")
        except Exception as exc:
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the download still waits on a server that sends nothing"
    assert requests == ["/g.pth"] and len(outcome) == 1
    assert isinstance(outcome[0], FileNotFoundError) and "the server sent nothing for 1 s (stalled)" in str(outcome[0])
    assert list((ganzoo.importers.cache_root() / "downloads").iterdir()) == []


def test_a_killed_download_is_removed_by_the_next(tmp_path, http_files):  # noqa: F811
    served, base = http_files
    _mmagic_file(served / "g.pth", channels=1)
    downloads = ganzoo.importers.cache_root() / "downloads"
    downloads.mkdir(parents=True)
    stale = downloads / f".{'ab' * 16}.download-{_dead_pid()}"
    live = downloads / f".{'cd' * 16}.download-{os.getpid()}"
    stale.write_bytes(b"partial")
    live.write_bytes(b"in progress")
    import_checkpoint("mmagic-dcgan", f"{base}/g.pth", tmp_path / "out")
    assert sorted(downloads.iterdir()) == [live]


# ---- 3. concurrent imports, a kill mid-import, a re-import -----------------------------------------------------

RACE_SCRIPT = """
    import sys, time
    from pathlib import Path
    import ganzoo.importers, ganzoo.pretrained.folder
    from ganzoo.cli import cli
    from ganzoo.plugins import get_state

    file, out, ready, go = sys.argv[1:5]
    get_state()
    Path(ready).write_text("ready")
    while not Path(go).exists():
        time.sleep(0.001)
    cli(["import", f"mmagic-dcgan:{file}", "--out", out], prog_name="ganzoo")
"""


def test_concurrent_imports_into_one_folder_leave_one_whole_model_and_one_line_each(tmp_path):
    file = _mmagic_file(tmp_path / "g.pth", channels=1)
    procs = [
        _python(
            RACE_SCRIPT,
            str(file),
            str(tmp_path / "out"),
            str(tmp_path / f"ready-{i}"),
            str(tmp_path / "go"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(3)
    ]
    deadline = time.time() + 240
    while not all((tmp_path / f"ready-{i}").exists() for i in range(3)) and time.time() < deadline:
        time.sleep(0.05)
    (tmp_path / "go").write_text("go")
    results = [(p.wait(timeout=240), *p.communicate()) for p in procs]
    assert all(code in (0, 1) and "Traceback" not in err for code, _, err in results), results
    assert any(code == 0 for code, _, _ in results)
    for code, _, err in results:
        if code == 1:
            assert len(err.strip().splitlines()) == 1 and "was written by another process" in err, err
    assert _sha(file) in (tmp_path / "out" / "README.md").read_text()
    ganzoo.load(str(tmp_path / "out"))
    assert [p for p in _hidden(tmp_path)] == []


KILL_SCRIPT = """
    import sys, time
    from pathlib import Path
    import ganzoo.pretrained.folder
    from ganzoo.cli import cli

    file, out, marker = sys.argv[1:4]

    def stall(model, path):  # the save is under way: stop here until killed
        Path(marker).write_text("saving")
        time.sleep(600)

    ganzoo.pretrained.folder.write_samples = stall
    cli(["import", f"mmagic-dcgan:{file}", "--out", out], prog_name="ganzoo")
"""


def _import_killed_mid_save(file: Path, out: Path, marker: Path) -> None:
    proc = _python(KILL_SCRIPT, str(file), str(out), str(marker))
    try:
        deadline = time.time() + 240
        while not marker.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the import never reached its save"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_a_kill_mid_import_leaves_the_old_model_whole_and_the_next_import_cleans_up(tmp_path):
    first = _mmagic_file(tmp_path / "first.pth", seed=1, channels=1)
    second = _mmagic_file(tmp_path / "second.pth", seed=2, channels=1)
    out = tmp_path / "models" / "out"
    import_checkpoint("mmagic-dcgan", str(first), out)
    weights = _sha(out / "model.safetensors")

    _import_killed_mid_save(second, out, tmp_path / "marker")
    assert _sha(out / "model.safetensors") == weights  # the old model, whole: weights and card agree
    assert f"sha256 {_sha(first)}" in (out / "README.md").read_text()
    assert len(_hidden(out.parent)) == 1  # the killed import's unfinished folder

    import_checkpoint("mmagic-dcgan", str(second), out)
    assert _hidden(out.parent) == []  # removed: its process is gone
    assert f"sha256 {_sha(second)}" in (out / "README.md").read_text()
    assert _sha(out / "model.safetensors") != weights
    ganzoo.load(str(out))


def test_a_kill_during_a_first_import_leaves_no_folder(tmp_path):
    file = _mmagic_file(tmp_path / "g.pth", channels=1)
    out = tmp_path / "models" / "out"
    _import_killed_mid_save(file, out, tmp_path / "marker")
    assert not out.exists() and len(_hidden(out.parent)) == 1
    import_checkpoint("mmagic-dcgan", str(file), tmp_path / "models" / "other")
    assert _hidden(out.parent) == []


def test_stale_saves_are_removed_only_when_their_process_is_gone(tmp_path):
    dead, parent = _dead_pid(), tmp_path
    (parent / f".a.0123abcd.tmp-{dead}").mkdir()
    (parent / f".a.0123abcd.tmp-{dead}" / "config.json").write_text("{}")
    (parent / f".b.89abcdef.tmp-{os.getpid()}").mkdir()  # a save of this process, under way
    (parent / f".c.00112233.old-{dead}").mkdir()  # a model set aside for a swap, its folder gone: put back
    (parent / f".c.00112233.old-{dead}" / "config.json").write_text("{}")
    (parent / ".mine.tmp-1").mkdir()  # not a name ganzoo gives
    removed = remove_stale_saves(parent)
    assert [p.name for p in removed] == [f".a.0123abcd.tmp-{dead}"]
    assert sorted(p.name for p in parent.iterdir()) == [f".b.89abcdef.tmp-{os.getpid()}", ".mine.tmp-1", "c"]


# ---- 3. a tampered Hub file is not kept in the Hub cache -----------------------------------------------------------


def test_a_tampered_hub_file_is_removed_from_the_hub_cache(tmp_path, hub, hf_env, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    published, served = tmp_path / "published.pth", tmp_path / "served.pth"
    _mmagic_file(published, seed=1, channels=1)
    _mmagic_file(served, seed=2, channels=1)  # other bytes behind the published name
    api = HfApi(endpoint=hub.endpoint, token=False)
    api.create_repo("org/ckpt")
    api.upload_file(path_or_fileobj=str(served), path_in_repo="w/g.pth", repo_id="org/ckpt")
    source = "mmagic-dcgan:hf-hub:org/ckpt/w/g.pth"
    line = _fails_cleanly("import", source, "--out", str(tmp_path / "out"), "--sha256", _sha(published))
    assert "not the pinned" in line and "removed from the Hub cache" in line
    cached = [p for p in hf_env.rglob("*") if p.is_file() and p.stat().st_size == served.stat().st_size]
    assert cached == [] and not list(hf_env.rglob("g.pth"))


def test_an_existing_empty_folder_is_kept_and_a_save_cut_short_there_may_be_written_again(tmp_path):
    folder = tmp_path / "mount"
    folder.mkdir()
    inode = folder.stat().st_ino
    model = ganzoo.create("dcgan", **SMALL)
    model.save_pretrained(folder, samples=False)
    assert folder.stat().st_ino == inode  # the folder itself (a mount point, the working directory) stays
    (folder / "config.json").unlink()  # a save into the folder itself, killed before its last file
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        ganzoo.load(str(folder))
    model.save_pretrained(folder, samples=False)
    assert ganzoo.load(str(folder)).config == model.config and _hidden(tmp_path) == []


def test_ganzoo_cache_pointing_at_a_file_is_one_line_naming_it_before_any_request(
    tmp_path, stalling_server, monkeypatch
):
    url, requests = stalling_server
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("GANZOO_CACHE", str(blocker))
    line = _fails_cleanly("import", f"mmagic-dcgan:{url}", "--out", str(tmp_path / "out"))
    assert f"{blocker} (from GANZOO_CACHE) is a file, not a folder" in line and "damaged" not in line
    assert requests == [] and blocker.read_text() == "x" and not (tmp_path / "out").exists()
