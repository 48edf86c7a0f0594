"""The real huggingface_hub client against the loopback FakeHub (tests/hubserver.py): no network."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download, snapshot_download
from huggingface_hub import constants as hf_constants
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from .hubserver import FakeHub, git_blob_sha

REPO = "ganzoo/dcgan-test"


def _write(folder, files: dict[str, bytes]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def _weights(seed: int) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(100_000))


def test_upload_download_revisions_and_snapshots(hub, hf_env, tmp_path):
    api = HfApi(endpoint=hub.endpoint, token=False)
    url = api.create_repo(REPO)
    assert url.repo_id == REPO and str(url) == f"{hub.endpoint}/{REPO}"
    assert api.create_repo(REPO, exist_ok=True).repo_id == REPO
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_repo(REPO)
    assert exc.value.response.status_code == 409

    config_v1, weights_v1 = json.dumps({"variant": "dcgan", "z_dim": 100}).encode(), _weights(1)
    v1 = api.upload_folder(
        repo_id=REPO,
        folder_path=_write(tmp_path / "v1", {"config.json": config_v1, "generator.safetensors": weights_v1}),
        commit_message="v1",
    )
    assert hub.commits(REPO)[-1] == v1.oid and len(hub.commits(REPO)) == 2  # initial commit + v1
    assert hub.files(REPO)["generator.safetensors"] == weights_v1

    path = hf_hub_download(REPO, "generator.safetensors", endpoint=hub.endpoint, cache_dir=hf_env, token=False)
    assert Path(path).read_bytes() == weights_v1
    assert path.startswith(str(hf_env)) and f"snapshots{os.sep}{v1.oid}" in path

    config_v2, weights_v2 = json.dumps({"variant": "dcgan", "z_dim": 128}).encode(), _weights(2)
    v2 = api.upload_folder(
        repo_id=REPO,
        folder_path=_write(tmp_path / "v2", {"config.json": config_v2, "generator.safetensors": weights_v2}),
        commit_message="v2",
    )
    assert v2.oid != v1.oid and hub.commits(REPO)[-2:] == [v1.oid, v2.oid]

    def get(filename, revision=None):
        p = hf_hub_download(REPO, filename, revision=revision, endpoint=hub.endpoint, cache_dir=hf_env, token=False)
        return Path(p).read_bytes()

    assert get("generator.safetensors") == weights_v2
    assert get("config.json") == config_v2
    assert get("generator.safetensors", revision=v1.oid) == weights_v1
    assert get("config.json", revision=v1.oid) == config_v1

    snap_main = snapshot_download(REPO, endpoint=hub.endpoint, cache_dir=hf_env, token=False)
    snap_v1 = snapshot_download(REPO, revision=v1.oid, endpoint=hub.endpoint, cache_dir=hf_env, token=False)
    assert snap_main.endswith(v2.oid) and snap_v1.endswith(v1.oid)
    assert sorted(os.listdir(snap_main)) == [".gitattributes", "config.json", "generator.safetensors"]
    assert Path(os.path.join(snap_main, "generator.safetensors")).read_bytes() == weights_v2
    assert Path(os.path.join(snap_v1, "generator.safetensors")).read_bytes() == weights_v1

    assert sorted(api.list_repo_files(REPO)) == [".gitattributes", "config.json", "generator.safetensors"]
    tree = {f.path: f for f in api.list_repo_tree(REPO, revision=v1.oid)}
    assert tree["generator.safetensors"].size == 100_000
    assert tree["generator.safetensors"].blob_id == git_blob_sha(weights_v1)
    info = api.model_info(REPO)
    assert info.sha == v2.oid and {s.rfilename for s in info.siblings} == set(tree)
    assert api.repo_info(REPO, revision=v1.oid).sha == v1.oid
    assert [c.commit_id for c in api.list_repo_commits(REPO)] == hub.commits(REPO)[::-1]
    assert [c.title for c in api.list_repo_commits(REPO)][:2] == ["v2", "v1"]
    assert api.list_repo_refs(REPO).branches[0].target_commit == v2.oid
    assert api.file_exists(REPO, "config.json") and not api.file_exists(REPO, "nope.json")


def test_client_errors(hub, hf_env):
    api = HfApi(endpoint=hub.endpoint, token=False)
    api.create_repo(REPO)
    api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=REPO)
    kw = dict(endpoint=hub.endpoint, cache_dir=hf_env, token=False)

    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("ganzoo/missing", "config.json", **kw)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("ganzoo/missing")
    with pytest.raises(RepositoryNotFoundError):
        snapshot_download("ganzoo/missing", **kw)

    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(REPO, "config.json", revision="no-such-branch", **kw)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(REPO, "config.json", revision="0" * 40, **kw)
    with pytest.raises(RevisionNotFoundError):
        api.model_info(REPO, revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        snapshot_download(REPO, revision="no-such-branch", **kw)

    with pytest.raises(RemoteEntryNotFoundError) as exc:
        hf_hub_download(REPO, "missing.safetensors", **kw)
    assert isinstance(exc.value, EntryNotFoundError)


def test_offline_serves_cache_and_raises_when_not_cached(hub, hf_env, monkeypatch):
    api = HfApi(endpoint=hub.endpoint, token=False)
    api.create_repo(REPO)
    old = api.upload_file(path_or_fileobj=b"old", path_in_repo="weights.safetensors", repo_id=REPO).oid
    new = api.upload_file(path_or_fileobj=b"new", path_in_repo="weights.safetensors", repo_id=REPO).oid
    assert new != old
    kw = dict(endpoint=hub.endpoint, cache_dir=hf_env, token=False)
    hf_hub_download(REPO, "weights.safetensors", revision=old, **kw)
    hf_hub_download(REPO, "weights.safetensors", **kw)  # caches refs/main -> new
    snapshot_download(REPO, **kw)

    # The supported switch at test time: the env var is read once, at import.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    seen = len(hub.requests)

    def read(revision=None):
        return Path(hf_hub_download(REPO, "weights.safetensors", revision=revision, **kw)).read_bytes()

    assert read(old) == b"old" and read("main") == b"new" and read() == b"new"
    assert os.listdir(snapshot_download(REPO, **kw))
    with pytest.raises(LocalEntryNotFoundError):
        hf_hub_download(REPO, "never-downloaded.json", **kw)
    with pytest.raises(LocalEntryNotFoundError):
        hf_hub_download("ganzoo/other", "config.json", **kw)
    assert len(hub.requests) == seen  # offline: not a single request reached the server

    hub.stop()
    assert read(old) == b"old" and read("main") == b"new"
    with pytest.raises(LocalEntryNotFoundError):
        hf_hub_download(REPO, "never-downloaded.json", **kw)
    # Server down but online: cached files still come back (a *missing* one would cost ~25 s of client retries).
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    assert read(old) == b"old" and read("main") == b"new"


def test_token_required_for_writes(hf_env):
    with FakeHub(token="hf_secret") as hub:
        anon = HfApi(endpoint=hub.endpoint, token=False)
        with pytest.raises(HfHubHTTPError) as exc:
            anon.create_repo(REPO)
        assert exc.value.response.status_code == 401
        api = HfApi(endpoint=hub.endpoint, token="hf_secret")
        api.create_repo(REPO)
        with pytest.raises(HfHubHTTPError):
            anon.upload_file(path_or_fileobj=b"x", path_in_repo="a.bin", repo_id=REPO)
        api.upload_file(path_or_fileobj=b"x", path_in_repo="a.bin", repo_id=REPO)
        assert api.whoami()["name"] == "fakeuser"
        # Public repo: reads need no token. Private repo: reads without it look like a missing repo (as on the Hub).
        p = hf_hub_download(REPO, "a.bin", endpoint=hub.endpoint, cache_dir=hf_env, token=False)
        assert Path(p).read_bytes() == b"x"
        api.create_repo("ganzoo/private", private=True)
        with pytest.raises(RepositoryNotFoundError):
            anon.model_info("ganzoo/private")
        assert api.model_info("ganzoo/private").private is True
        assert not hub.errors


def test_commit_api_without_xet(hub, monkeypatch, tmp_path):
    """Legacy single-commit path (hf_xet absent/disabled), deletions, parent_commit, branches and tags."""
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_XET", True)
    api = HfApi(endpoint=hub.endpoint, token=False)
    api.create_repo("solo")  # no namespace: created under the fake user, like the Hub does
    repo = "fakeuser/solo"
    c1 = api.create_commit(
        repo,
        [CommitOperationAdd("a/x.json", b"1"), CommitOperationAdd("a/b/y.bin", b"2"), CommitOperationAdd("z", b"3")],
        commit_message="add",
    )
    assert sorted(api.list_repo_files(repo)) == [".gitattributes", "a/b/y.bin", "a/x.json", "z"]
    top = {(e.path, type(e).__name__) for e in api.list_repo_tree(repo)}
    assert top == {(".gitattributes", "RepoFile"), ("a", "RepoFolder"), ("z", "RepoFile")}
    assert {e.path for e in api.list_repo_tree(repo, path_in_repo="a")} == {"a/x.json", "a/b"}
    assert [e.path for e in api.get_paths_info(repo, ["z", "a", "nope"])] == ["z", "a"]

    with pytest.raises(HfHubHTTPError) as exc:  # stale parent
        api.create_commit(repo, [CommitOperationAdd("z", b"4")], commit_message="m", parent_commit=hub.commits(repo)[0])
    assert exc.value.response.status_code == 412
    c2 = api.create_commit(
        repo, [CommitOperationDelete("a/"), CommitOperationAdd("z", b"4")], commit_message="rm", parent_commit=c1.oid
    )
    assert hub.files(repo) == {".gitattributes": hub.files(repo)[".gitattributes"], "z": b"4"}
    with pytest.raises(RemoteEntryNotFoundError):
        api.create_commit(repo, [CommitOperationDelete("missing")], commit_message="rm")
    # Unchanged content: the client sees the remote oid in preupload and makes no commit.
    n = len(hub.commits(repo))
    assert api.upload_file(path_or_fileobj=b"4", path_in_repo="z", repo_id=repo).oid == c2.oid
    assert len(hub.commits(repo)) == n

    folder = _write(tmp_path / "f", {"w.safetensors": b"w" * 1000})
    up = api.upload_folder(repo_id=repo, folder_path=folder, path_in_repo="ckpt")  # create_commit underneath
    assert hub.commits(repo)[-1] == up.oid and hub.files(repo)["ckpt/w.safetensors"] == b"w" * 1000

    api.create_branch(repo, branch="dev", revision=c1.oid)
    api.create_tag(repo, tag="v1.0", revision=c1.oid)
    refs = api.list_repo_refs(repo)
    assert {b.name: b.target_commit for b in refs.branches} == {"main": up.oid, "dev": c1.oid}
    assert refs.tags[0].name == "v1.0" and api.model_info(repo, revision="v1.0").sha == c1.oid
    api.upload_file(path_or_fileobj=b"5", path_in_repo="z", repo_id=repo, revision="dev")
    assert hub.files(repo, "dev")["z"] == b"5" and hub.files(repo)["z"] == b"4"


def test_dataset_repos(hub, hf_env):
    api = HfApi(endpoint=hub.endpoint, token=False)
    api.create_repo("ganzoo/toy-data", repo_type="dataset")
    sha = api.upload_file(
        path_or_fileobj=b"a,b\n", path_in_repo="train.csv", repo_id="ganzoo/toy-data", repo_type="dataset"
    ).oid
    assert hub.commits("ganzoo/toy-data", repo_type="dataset")[-1] == sha
    p = hf_hub_download(
        "ganzoo/toy-data", "train.csv", repo_type="dataset", endpoint=hub.endpoint, cache_dir=hf_env, token=False
    )
    assert Path(p).read_bytes() == b"a,b\n" and "datasets--ganzoo--toy-data" in p
    with pytest.raises(RepositoryNotFoundError):  # same id, wrong type
        api.model_info("ganzoo/toy-data")


def test_raw_http_details(hub):
    """Headers the client relies on, Range requests, and the request log."""
    api = HfApi(endpoint=hub.endpoint, token=False)
    api.create_repo(REPO)
    sha = api.upload_file(path_or_fileobj=b"0123456789", path_in_repo="d/f.bin", repo_id=REPO).oid
    req = urllib.request.Request(f"{hub.endpoint}/{REPO}/resolve/main/d/f.bin", method="HEAD")
    with urllib.request.urlopen(req) as r:
        assert r.headers["X-Repo-Commit"] == sha
        assert r.headers["ETag"] == f'"{git_blob_sha(b"0123456789")}"'
        assert r.headers["Content-Length"] == "10" and "X-Xet-Hash" not in r.headers
    req = urllib.request.Request(f"{hub.endpoint}/{REPO}/resolve/{sha}/d%2Ff.bin", headers={"Range": "bytes=3-"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 206 and r.read() == b"3456789"
    assert ("HEAD", f"/{REPO}/resolve/main/d/f.bin") in hub.requests
    assert ("POST", "/api/repos/create") in hub.requests
