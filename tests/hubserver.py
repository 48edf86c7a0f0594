"""A loopback fake of the Hugging Face Hub HTTP API, good enough for the real ``huggingface_hub`` client.

Stdlib only. Checked against huggingface_hub 2.4.0 (``hf_api.py``, ``file_download.py``, ``_commit_api.py``,
``_upload_pipeline.py``, ``_snapshot_download.py``, ``utils/_http.py``). Repos live in memory as a list of
commits (``sha``, ``parent``, ``files: {path: bytes}``, ``message``); branches map a name to a commit sha.
Like the real Hub, a new repo starts with an "initial commit" holding a ``.gitattributes`` file, so
``list_repo_files``/``snapshot_download`` list it too and ``commits()`` has one entry before any upload.

Usage::

    with FakeHub() as hub:                      # or FakeHub(token="hf_x") to require auth on writes
        api = HfApi(endpoint=hub.endpoint, token=False)
        api.create_repo("org/model")
        api.upload_folder(repo_id="org/model", folder_path=folder)
        path = hf_hub_download("org/model", "config.json", endpoint=hub.endpoint, cache_dir=tmp_path / "hub")
        hub.commits("org/model")                # [initial_sha, upload_sha], oldest first
        hub.requests                            # [("POST", "/api/repos/create"), ...] (decoded path, no query)

Making the client use the server
    Pass ``endpoint=hub.endpoint`` explicitly everywhere (``HfApi(endpoint=...)``, ``hf_hub_download``,
    ``snapshot_download``). ``HF_ENDPOINT`` is read once, when ``huggingface_hub.constants`` is imported, so
    setting the environment variable inside a test does nothing. Same for the cache: ``HF_HUB_CACHE`` and
    ``HF_HOME`` are read at import, so pass ``cache_dir=`` (or monkeypatch ``huggingface_hub.constants.HF_HUB_CACHE``).
    Pass ``token=False`` (or the hub's token) so a token saved on the machine is never sent.

Going offline
    ``HF_HUB_OFFLINE`` is also read only at import (``constants.HF_HUB_OFFLINE``), but every request goes through
    ``constants.is_offline_mode()``, which reads that module attribute at call time. So, inside a test::

        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    Then no HTTP request is made at all (the client's request hook raises ``OfflineModeIsEnabled`` before
    connecting), ``hf_hub_download`` serves pinned revisions (a full sha) and branch names it has a cached
    ``refs/<branch>`` for, and raises ``LocalEntryNotFoundError`` (an ``EntryNotFoundError`` and a
    ``FileNotFoundError``) when the file is not cached. ``snapshot_download`` raises ``LocalEntryNotFoundError``
    too. ``local_files_only=True`` per call is the other supported way. With the server merely stopped (not
    offline), the client gets a connection error and falls back to the cache the same way.

Errors (status, ``X-Error-Code`` header -> exception the client raises)
    unknown repo: 404 ``RepoNotFound`` -> ``RepositoryNotFoundError``;
    unknown branch/tag/sha: 404 ``RevisionNotFound`` -> ``RevisionNotFoundError``;
    missing file or folder: 404 ``EntryNotFound`` -> ``RemoteEntryNotFoundError`` (an ``EntryNotFoundError``);
    create_repo on an existing repo: 409 -> ``HfHubHTTPError`` (``exist_ok=True`` swallows it);
    write without the right ``Authorization: Bearer <token>`` when the hub has a token: 401 -> ``HfHubHTTPError``;
    a private repo read without the right token when the hub has a token: 401 ``RepoNotFound`` (as the Hub does);
    a stale ``parent_commit``: 412 -> ``HfHubHTTPError``;
    anything this fake does not do (LFS/Xet uploads, pull requests): 400 -> ``BadRequestError``.
    A bug inside the fake answers 400 too (never 5xx: the client would retry for ~25 s) and is recorded in
    ``hub.errors``.

Xet and LFS are never used: ``preupload`` answers ``uploadMode: "regular"`` for every file, so content is sent
inline (base64 in the NDJSON commit) even when ``hf_xet`` is installed (``upload_folder`` then still goes through
the client's pipelined uploader, which only opens an Xet upload for non-regular files); downloads carry no
``X-Xet-Hash`` header and tree entries no ``xetHash``/``lfs``, so files come through plain ``GET /resolve``.
The ``ETag`` of a file is its git blob sha1, like a regular (non-LFS) file on the Hub.

Endpoints (``{type}`` is ``models``, ``datasets`` or ``spaces``; ``{rev}`` a branch, tag, or full commit sha)
    POST   /api/repos/create                    DELETE /api/repos/delete
    GET    /api/whoami-v2                       POST   /api/validate-yaml
    GET    /api/{type}/{repo}                   GET    /api/{type}/{repo}/revision/{rev}
    GET    /api/{type}/{repo}/tree/{rev}[/{path}]?recursive=
    POST   /api/{type}/{repo}/paths-info/{rev}  POST   /api/{type}/{repo}/preupload/{rev}
    POST   /api/{type}/{repo}/commit/{rev}      GET    /api/{type}/{repo}/commits/{rev}
    GET    /api/{type}/{repo}/refs              POST/DELETE /api/{type}/{repo}/branch/{name}
    POST   /api/{type}/{repo}/tag/{rev}         DELETE /api/{type}/{repo}/tag/{tag}
    HEAD/GET /[datasets/|spaces/]{repo}/resolve/{rev}/{path}   (Range supported)

Connections are closed after each response, and ``stop()`` joins every handler thread, so no thread outlives it.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import itertools
import json
import re
import socket
import threading
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qs, quote, unquote, urlsplit

__all__ = ["FakeHub", "git_blob_sha"]

_TYPES_FROM_URL = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_SUBROUTES = {"revision", "tree", "preupload", "commit", "commits", "refs", "paths-info", "branch", "tag"}
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_GITATTRIBUTES = (
    b"*.bin filter=lfs diff=lfs merge=lfs -text\n"
    b"*.pt filter=lfs diff=lfs merge=lfs -text\n"
    b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
)
USER = "fakeuser"


def git_blob_sha(data: bytes) -> str:
    """Git's blob id of ``data``: the ``ETag`` and tree ``oid`` the Hub gives a regular file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    t = datetime.now(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


@dataclass
class _Commit:
    sha: str
    parent: str | None
    files: dict[str, bytes]
    message: str
    description: str = ""
    date: str = field(default_factory=_now)


@dataclass
class _Repo:
    repo_type: str
    repo_id: str
    private: bool
    commits: list[_Commit] = field(default_factory=list)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created_at: str = field(default_factory=_now)

    def commit(self, sha: str) -> _Commit:
        return next(c for c in self.commits if c.sha == sha)

    def resolve(self, revision: str) -> _Commit | None:
        for prefix, refs in (("refs/heads/", self.branches), ("refs/tags/", self.tags)):
            if revision.startswith(prefix):
                sha = refs.get(revision[len(prefix) :])
                return self.commit(sha) if sha else None
        sha = self.branches.get(revision) or self.tags.get(revision)
        if sha is None and _SHA_RE.match(revision):
            sha = revision if any(c.sha == revision for c in self.commits) else None
        return self.commit(sha) if sha else None


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None, body=None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers = headers or {}
        self.body = body


class FakeHub:
    """In-memory Hub on ``127.0.0.1:<free port>``; see the module docstring."""

    def __init__(self, token: str | None = None):
        self.token = token
        self.endpoint = ""
        self.requests: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._lock = threading.RLock()
        self._counter = itertools.count()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeHub:
        if self._server is not None:
            return self
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hub = self
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fakehub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()  # stops serve_forever
        self._thread.join()
        server.close_connections()
        server.server_close()  # joins the handler threads (daemon_threads=False)

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ inspection helpers
    def commits(self, repo_id: str, repo_type: str = "model") -> list[str]:
        """Commit shas of a repo, oldest first (all branches)."""
        with self._lock:
            return [c.sha for c in self._repos[(repo_type, repo_id)].commits]

    def files(self, repo_id: str, revision: str = "main", repo_type: str = "model") -> dict[str, bytes]:
        """``{path: content}`` of a repo at a revision, as the server holds it."""
        with self._lock:
            commit = self._repos[(repo_type, repo_id)].resolve(revision)
            if commit is None:
                raise KeyError(revision)
            return dict(commit.files)

    # ------------------------------------------------------------------ storage
    def _new_commit(self, repo: _Repo, parent: _Commit | None, files: dict[str, bytes], message: str, description=""):
        h = hashlib.sha1()
        h.update(f"{repo.repo_type}/{repo.repo_id}\n{parent.sha if parent else ''}\n{message}\n".encode())
        for path in sorted(files):
            h.update(f"{path}\0{git_blob_sha(files[path])}\n".encode())
        h.update(f"{next(self._counter)}\n{_now()}".encode())
        commit = _Commit(h.hexdigest(), parent.sha if parent else None, files, message, description)
        repo.commits.append(commit)
        return commit

    def _repo_url(self, repo: _Repo) -> str:
        return f"{self.endpoint}/{_URL_PREFIX[repo.repo_type]}{repo.repo_id}"


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins handler threads
    block_on_close = True
    hub: FakeHub

    def __init__(self, *args, **kwargs):
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self):
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle client cannot pin a handler thread forever
    server: _Server

    def log_message(self, format, *args):  # quiet
        pass

    # ------------------------------------------------------------------ plumbing
    def do_GET(self):
        self._handle("GET")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        self.close_connection = True
        hub = self.server.hub
        split = urlsplit(self.path)
        raw_path = split.path
        hub.requests.append((method, unquote(raw_path)))
        self.query = parse_qs(split.query, keep_blank_values=True)
        self.method = method
        try:
            self.body = self._read_body()
            status, headers, body = self._dispatch(hub, method, raw_path)
        except HubError as e:
            headers = dict(e.headers)
            if e.code:
                headers["X-Error-Code"] = e.code
            headers["X-Error-Message"] = e.message
            status, body = e.status, e.body if e.body is not None else {"error": e.message}
        except Exception:
            tb = traceback.format_exc()
            hub.errors.append(tb)
            msg = "FakeHub internal error: " + tb.strip().splitlines()[-1]
            status, headers, body = 400, {"X-Error-Message": msg}, {"error": msg, "traceback": tb}
        self._send(status, headers, body)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: dict, body) -> None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        else:
            data = body or b""
        # Header values must be latin-1 and single-line.
        headers = {
            k: str(v).replace("\r", " ").replace("\n", " ").encode("latin-1", "replace").decode("latin-1")
            for k, v in headers.items()
        }
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.method != "HEAD" and data:
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

    def _json(self):
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            raise HubError(400, "Invalid JSON body") from None

    def _param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def _flag(self, name: str) -> bool:
        return (self._param(name) or "").lower() in ("1", "true")

    def _authorized(self, hub: FakeHub) -> bool:
        return hub.token is None or self.headers.get("Authorization") == f"Bearer {hub.token}"

    def _require_write(self, hub: FakeHub) -> None:
        if not self._authorized(hub):
            raise HubError(401, "Invalid credentials in Authorization header")

    # ------------------------------------------------------------------ routing
    def _dispatch(self, hub: FakeHub, method: str, raw_path: str):
        segs = [s for s in raw_path.split("/") if s]
        if segs[:1] == ["api"]:
            rest = segs[1:]
            if rest == ["repos", "create"] and method == "POST":
                return self._create_repo(hub)
            if rest == ["repos", "delete"] and method == "DELETE":
                return self._delete_repo(hub)
            if rest == ["whoami-v2"] and method == "GET":
                return self._whoami(hub)
            if rest == ["validate-yaml"] and method == "POST":
                return 200, {}, {"errors": [], "warnings": []}
            if len(rest) >= 2 and rest[0] in _TYPES_FROM_URL:
                return self._repo_api(hub, method, _TYPES_FROM_URL[rest[0]], rest[1:])
        elif method in ("GET", "HEAD"):
            repo_type = "model"
            if segs and segs[0] in ("datasets", "spaces") and "resolve" in segs[2:4]:
                repo_type, segs = _TYPES_FROM_URL[segs[0]], segs[1:]
            for n in (2, 1):
                if len(segs) > n + 2 and segs[n] == "resolve":
                    repo_id = "/".join(unquote(s) for s in segs[:n])
                    revision = unquote(segs[n + 1])
                    path = unquote("/".join(segs[n + 2 :]))
                    return self._resolve(hub, repo_type, repo_id, revision, path)
        raise HubError(404, f"FakeHub has no route for {method} {raw_path}")

    def _split_repo(self, hub: FakeHub, repo_type: str, segs: list[str]) -> tuple[str, list[str]]:
        """Split ``[org, name, sub, ...]`` or ``[name, sub, ...]`` into the repo id and the sub-route."""
        segs = [unquote(s) if i < 2 else s for i, s in enumerate(segs)]
        if len(segs) >= 2 and ((repo_type, f"{segs[0]}/{segs[1]}") in hub._repos or segs[1] not in _SUBROUTES):
            return f"{segs[0]}/{segs[1]}", segs[2:]
        return segs[0], segs[1:]

    def _get_repo(self, hub: FakeHub, repo_type: str, repo_id: str, write: bool = False) -> _Repo:
        if write:
            self._require_write(hub)
        repo = hub._repos.get((repo_type, repo_id))
        if repo is None:
            raise HubError(404, "Repository not found", "RepoNotFound")
        if repo.private and not self._authorized(hub):
            raise HubError(401, "Repository not found", "RepoNotFound")
        return repo

    def _get_commit(self, repo: _Repo, revision: str) -> _Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    def _repo_api(self, hub: FakeHub, method: str, repo_type: str, segs: list[str]):
        repo_id, sub = self._split_repo(hub, repo_type, segs)
        with hub._lock:
            if not sub:
                if method == "GET":
                    return self._info(hub, self._get_repo(hub, repo_type, repo_id), "main")
            else:
                route, args = sub[0], [unquote(s) for s in sub[1:]]
                first = args[0] if args else None
                write = method in ("POST", "PUT", "DELETE") and route != "paths-info"
                handlers = {
                    ("GET", "revision"): lambda r: self._info(hub, r, "/".join(args)),
                    ("GET", "tree"): lambda r: self._tree(r, first, "/".join(args[1:])),
                    ("POST", "paths-info"): lambda r: self._paths_info(r, "/".join(args)),
                    ("POST", "preupload"): lambda r: self._preupload(r, "/".join(args)),
                    ("POST", "commit"): lambda r: self._commit(hub, r, "/".join(args)),
                    ("GET", "commits"): lambda r: self._list_commits(r, "/".join(args) or "main"),
                    ("GET", "refs"): lambda r: self._refs(r),
                    ("POST", "branch"): lambda r: self._create_branch(r, "/".join(args)),
                    ("DELETE", "branch"): lambda r: self._delete_ref(r.branches, "/".join(args), "Branch"),
                    ("POST", "tag"): lambda r: self._create_tag(r, "/".join(args)),
                    ("DELETE", "tag"): lambda r: self._delete_ref(r.tags, "/".join(args), "Tag"),
                }
                handler = handlers.get((method, route))
                if handler is not None and (args or route == "refs"):
                    return handler(self._get_repo(hub, repo_type, repo_id, write=write))
        raise HubError(404, f"FakeHub has no route for {method} {'/'.join(segs)}")

    # ------------------------------------------------------------------ repos
    def _create_repo(self, hub: FakeHub):
        self._require_write(hub)
        payload = self._json()
        name, org = payload.get("name"), payload.get("organization")
        if not name:
            raise HubError(400, "Missing repo name")
        if "/" in name:
            org, name = name.split("/", 1)
        repo_id = f"{org or USER}/{name}"
        repo_type = payload.get("type") or "model"
        if repo_type not in _URL_PREFIX:
            raise HubError(400, f"FakeHub does not support repo type {repo_type!r}")
        private = bool(payload.get("private")) or payload.get("visibility") == "private"
        with hub._lock:
            existing = hub._repos.get((repo_type, repo_id))
            if existing is not None:
                msg = f"You already created this {repo_type} repo"
                raise HubError(409, msg, body={"error": msg, "url": hub._repo_url(existing)})
            repo = _Repo(repo_type, repo_id, private)
            initial = hub._new_commit(repo, None, {".gitattributes": _GITATTRIBUTES}, "initial commit")
            repo.branches["main"] = initial.sha
            hub._repos[(repo_type, repo_id)] = repo
        return 200, {}, {"url": hub._repo_url(repo), "name": repo_id, "id": repo_id}

    def _delete_repo(self, hub: FakeHub):
        self._require_write(hub)
        payload = self._json()
        name, org = payload.get("name"), payload.get("organization")
        repo_id = f"{org}/{name}" if org else (name if "/" in (name or "") else f"{USER}/{name}")
        with hub._lock:
            if hub._repos.pop((payload.get("type") or "model", repo_id), None) is None:
                raise HubError(404, "Repository not found", "RepoNotFound")
        return 200, {}, {}

    def _whoami(self, hub: FakeHub):
        if hub.token is not None and not self._authorized(hub):
            raise HubError(401, "Invalid credentials in Authorization header")
        return (
            200,
            {},
            {
                "type": "user",
                "id": "0" * 24,
                "name": USER,
                "fullname": "Fake User",
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "fake", "role": "write"}},
            },
        )

    def _info(self, hub: FakeHub, repo: _Repo, revision: str):
        commit = self._get_commit(repo, revision)
        blobs = self._flag("blobs")
        siblings = []
        for path in sorted(commit.files):
            entry = {"rfilename": path}
            if blobs:
                entry.update(size=len(commit.files[path]), blobId=git_blob_sha(commit.files[path]))
            siblings.append(entry)
        info = {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.sha,
            "lastModified": commit.date,
            "createdAt": repo.created_at,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
        }
        if repo.repo_type == "model":
            info["modelId"] = repo.repo_id
        return 200, {}, info

    # ------------------------------------------------------------------ trees
    @staticmethod
    def _file_entry(path: str, data: bytes) -> dict:
        return {"type": "file", "oid": git_blob_sha(data), "size": len(data), "path": path}

    @staticmethod
    def _dir_entry(files: dict[str, bytes], path: str) -> dict:
        h = hashlib.sha1(path.encode())
        for p in sorted(files):
            if p.startswith(path + "/"):
                h.update(f"{p}\0{git_blob_sha(files[p])}\n".encode())
        return {"type": "directory", "oid": h.hexdigest(), "size": 0, "path": path}

    def _tree(self, repo: _Repo, revision: str, path: str):
        commit = self._get_commit(repo, revision)
        files = commit.files
        path = path.strip("/")
        prefix = path + "/" if path else ""
        if path and path in files:
            return 200, {}, [self._file_entry(path, files[path])]
        under = [p for p in sorted(files) if p.startswith(prefix)]
        if path and not under:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound")
        recursive = self._flag("recursive")
        entries, seen_dirs = [], set()
        for p in under:
            parts = p[len(prefix) :].split("/")
            dirs = range(1, len(parts)) if recursive else range(1, min(2, len(parts)))
            for i in dirs:
                d = prefix + "/".join(parts[:i])
                if d not in seen_dirs:
                    seen_dirs.add(d)
                    entries.append(self._dir_entry(files, d))
            if recursive or len(parts) == 1:
                entries.append(self._file_entry(p, files[p]))
        return 200, {}, entries

    def _paths_info(self, repo: _Repo, revision: str):
        commit = self._get_commit(repo, revision)
        form = parse_qs(self.body.decode(), keep_blank_values=True) if self.body else {}
        if self.headers.get("Content-Type", "").startswith("application/json"):
            form = {"paths": self._json().get("paths", [])}
        out = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in commit.files:
                out.append(self._file_entry(path, commit.files[path]))
            elif any(p.startswith(path + "/") for p in commit.files):
                out.append(self._dir_entry(commit.files, path))
        return 200, {}, out

    # ------------------------------------------------------------------ uploads
    def _branch_head(self, repo: _Repo, revision: str) -> _Commit:
        if self._flag("create_pr"):
            raise HubError(400, "FakeHub does not support pull requests (create_pr)")
        branch = revision[len("refs/heads/") :] if revision.startswith("refs/heads/") else revision
        if branch not in repo.branches:
            if repo.resolve(revision) is not None:
                raise HubError(400, f"Cannot commit to {revision!r}: not a branch")
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return repo.commit(repo.branches[branch])

    def _preupload(self, repo: _Repo, revision: str):
        head = self._branch_head(repo, revision)
        files = []
        for f in self._json().get("files", []):
            path = f["path"]
            oid = git_blob_sha(head.files[path]) if path in head.files else None
            files.append({"path": path, "uploadMode": "regular", "shouldIgnore": False, "oid": oid})
        return 200, {}, {"files": files, "commitOid": head.sha}

    def _commit(self, hub: FakeHub, repo: _Repo, revision: str):
        head = self._branch_head(repo, revision)
        branch = revision[len("refs/heads/") :] if revision.startswith("refs/heads/") else revision
        lines = [json.loads(line) for line in self.body.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "Commit payload must start with a header line")
        header = lines[0]["value"]
        parent = header.get("parentCommit")
        if parent is not None and parent != head.sha:
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        files = dict(head.files)
        for line in lines[1:]:
            key, value = line.get("key"), line.get("value", {})
            path = value.get("path", "").strip("/")
            if key == "file":
                content = value.get("content", "")
                files[path] = base64.b64decode(content) if value.get("encoding") == "base64" else content.encode()
            elif key == "deletedFile":
                if path not in files:
                    raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                del files[path]
            elif key == "deletedFolder":
                doomed = [p for p in files if p.startswith(path + "/")]
                if not doomed:
                    raise HubError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
                for p in doomed:
                    del files[p]
            elif key in ("lfsFile", "xetFile"):
                raise HubError(400, f"FakeHub does not store LFS/Xet files ({path}); preupload says 'regular'")
            else:
                raise HubError(400, f"Unknown commit operation {key!r}")
        commit = hub._new_commit(repo, head, files, header.get("summary") or "", header.get("description") or "")
        repo.branches[branch] = commit.sha
        return (
            200,
            {},
            {
                "success": True,
                "commitOid": commit.sha,
                "commitUrl": f"{hub._repo_url(repo)}/commit/{commit.sha}",
                "pullRequestUrl": None,
                "hookOutput": "",
            },
        )

    # ------------------------------------------------------------------ history and refs
    def _list_commits(self, repo: _Repo, revision: str):
        commit, out = self._get_commit(repo, revision), []
        while commit is not None:
            out.append(
                {
                    "id": commit.sha,
                    "title": commit.message,
                    "message": commit.description,
                    "date": commit.date,
                    "authors": [{"user": USER, "avatar": None}],
                }
            )
            commit = repo.commit(commit.parent) if commit.parent else None
        return 200, {}, out

    def _refs(self, repo: _Repo):
        def refs(kind: str, table: dict[str, str]) -> list[dict]:
            return [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": s} for n, s in sorted(table.items())]

        body = {"branches": refs("heads", repo.branches), "converts": [], "tags": refs("tags", repo.tags)}
        if self._flag("include_prs"):
            body["pullRequests"] = []
        return 200, {}, body

    def _create_branch(self, repo: _Repo, branch: str):
        if branch in repo.branches:
            raise HubError(409, f"Reference already exists: refs/heads/{branch}")
        start = self._json().get("startingPoint") or "main"
        repo.branches[branch] = self._get_commit(repo, start).sha
        return 200, {}, {}

    def _create_tag(self, repo: _Repo, revision: str):
        tag = self._json().get("tag")
        if not tag:
            raise HubError(400, "Missing tag name")
        if tag in repo.tags:
            raise HubError(409, f"Reference already exists: refs/tags/{tag}")
        repo.tags[tag] = self._get_commit(repo, revision).sha
        return 200, {}, {}

    def _delete_ref(self, table: dict[str, str], name: str, kind: str):
        if name == "main" and kind == "Branch":
            raise HubError(403, "Cannot delete the default branch")
        if table.pop(name, None) is None:
            raise HubError(404, f"Invalid rev id: {name}", "RevisionNotFound")
        return 200, {}, {}

    # ------------------------------------------------------------------ downloads
    def _resolve(self, hub: FakeHub, repo_type: str, repo_id: str, revision: str, path: str):
        with hub._lock:
            repo = self._get_repo(hub, repo_type, repo_id)
            commit = self._get_commit(repo, revision)
            data = commit.files.get(path)
        headers = {"X-Repo-Commit": commit.sha}
        if data is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", headers=headers)
        headers.update(
            {
                "ETag": f'"{git_blob_sha(data)}"',
                "Content-Type": "application/octet-stream",
                "Accept-Ranges": "bytes",
                "Content-Disposition": f"inline; filename*=UTF-8''{quote(path.rsplit('/', 1)[-1])}",
            }
        )
        status, body = 200, data
        rng = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if rng and (rng.group(1) or rng.group(2)):
            start_s, end_s = rng.groups()
            if start_s:
                start, end = int(start_s), min(int(end_s), len(data) - 1) if end_s else len(data) - 1
            else:
                start, end = max(len(data) - int(end_s), 0), len(data) - 1
            if start >= len(data) or start > end:
                raise HubError(416, "Range not satisfiable", headers={"Content-Range": f"bytes */{len(data)}"})
            status, body = 206, data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        headers["Content-Length"] = str(len(body))
        return status, headers, body
