"""Pull requests end to end: a real git clone in tmp_path, PyGithub, and a fake GitHub server.

Every test that touches a workspace checks, on teardown, that the working tree, the index,
HEAD and the refs are exactly as before: the feature must work through the API alone.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kaizen.github import (
    FileChange,
    GitHubRemote,
    PullRequestError,
    PullRequestResult,
    PullRequestSpec,
    base_branch,
    branch_name_for,
    find_remote,
    open_pull_request,
    parse_remote_url,
    render_pr_body,
    resolve_token,
)
from kaizen.github import (
    mask_secrets as scrub,
)
from tests.fixtures import fake_github as fakes

FakeGitHub = fakes.FakeGitHub
TEST_TOKEN = fakes.TEST_TOKEN
fake_github = fakes.fake_github  # the fixture

REPO = "acme/widgets"
BRANCH = "kaizen/refactor-tidy-parser-0123abcd"
FILES = {
    "src/widgets/parser.py": "def parse(text):\n    return text.split()\n",
    "src/widgets/__init__.py": "",
    "README.md": "# Widgets\n",
}
SCRIPT = "bin/run.sh"


# --- a real git clone ------------------------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git config (url rewrites, hooks), and no repository above tmp_path."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for key in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{key}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{key}_EMAIL", "test@example.com")
    for key in ("GITHUB_TOKEN", "GH_TOKEN"):
        monkeypatch.delenv(key, raising=False)


def make_repo(path: Path, remote: str | None = "https://github.com/acme/widgets.git") -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in FILES.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    (path / SCRIPT).parent.mkdir(parents=True, exist_ok=True)
    (path / SCRIPT).write_text("#!/bin/sh\necho run\n")
    (path / SCRIPT).chmod(0o755)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "Initial")
    if remote:
        git(path, "remote", "add", "origin", remote)
    return path


def snapshot(root: Path) -> tuple[object, ...]:
    """Everything the user could notice: files, modes, status, HEAD, refs, stash."""
    files = {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mode)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
    index = (root / ".git" / "index").read_bytes()
    return (
        files,
        index,
        git(root, "status", "--porcelain", "--untracked-files=all"),
        git(root, "rev-parse", "HEAD"),
        git(root, "for-each-ref"),
        git(root, "stash", "list"),
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    """A clone of acme/widgets whose working tree must be untouched when the test ends."""
    root = make_repo(tmp_path / "widgets")
    before = snapshot(root)
    yield root
    assert snapshot(root) == before, "the working tree, index or refs changed"


@pytest.fixture
def remote_repo(fake_github: FakeGitHub) -> fakes.FakeRepo:
    files = {**FILES, SCRIPT: "#!/bin/sh\necho run\n"}
    return fake_github.add_repo(REPO, files)


def open_pr(
    workspace: Path, fake: FakeGitHub, spec: PullRequestSpec, **options: object
) -> PullRequestResult:
    kwargs: dict[str, object] = {"token": TEST_TOKEN, "base_url": fake.base_url}
    kwargs.update(throttle=False, **options)
    return open_pull_request(workspace, spec, **kwargs)  # type: ignore[arg-type]


def spec_for(*changes: FileChange, **fields: object) -> PullRequestSpec:
    values: dict[str, object] = {
        "title": "Tidy the parser",
        "body": "Splits parsing from tokenising.",
        "branch": BRANCH,
    }
    values.update(fields)
    return PullRequestSpec(changes=list(changes), **values)  # type: ignore[arg-type]


def expect_error(code: str, action: Callable[[], object]) -> PullRequestError:
    """Run ``action``, which must fail with ``code`` and without the token anywhere in it."""
    with pytest.raises(PullRequestError) as info:
        action()
    err = info.value
    assert err.code == code, err
    for text in (str(err), repr(err), err.message, *map(str, err.args)):
        assert TEST_TOKEN not in text
    return err


def blob_sha(text: str) -> str:
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def route(fake: FakeGitHub) -> list[tuple[str, str]]:
    return [(call.method, call.path) for call in fake.calls]


NEW_PARSER = "def parse(text: str) -> list[str]:\n    return text.split()\n"
API = f"/repos/{REPO}"


# --- the happy paths -------------------------------------------------------------------


def test_single_file_pull_request_is_one_commit_through_the_git_data_api(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    base = remote_repo.head("main")
    base_tree = remote_repo.commits[base].tree
    change = FileChange("src/widgets/parser.py", NEW_PARSER)

    result = open_pr(workspace, fake_github, spec_for(change, expected_base_sha=base))

    assert route(fake_github) == [
        ("GET", API),
        ("GET", f"{API}/git/ref/heads/main"),
        ("GET", f"{API}/git/ref/heads/{BRANCH}"),
        ("GET", f"{API}/git/commits/{base}"),
        ("POST", f"{API}/git/blobs"),
        ("POST", f"{API}/git/trees"),
        ("POST", f"{API}/git/commits"),
        ("POST", f"{API}/git/refs"),
        ("POST", f"{API}/pulls"),
    ]
    blob, tree, commit, ref, pull = (c.body for c in fake_github.writes())
    assert blob == {"content": NEW_PARSER, "encoding": "utf-8"}
    assert tree == {
        "base_tree": base_tree,
        "tree": [
            {
                "path": "src/widgets/parser.py",
                "mode": "100644",
                "type": "blob",
                "sha": blob_sha(NEW_PARSER),
            }
        ],
    }
    assert commit["message"] == "Tidy the parser"
    assert commit["parents"] == [base]
    assert ref == {"ref": f"refs/heads/{BRANCH}", "sha": result.commit_sha}
    assert pull == {
        "base": "main",
        "head": BRANCH,
        "title": "Tidy the parser",
        "body": "Splits parsing from tokenising.",
    }
    assert result == PullRequestResult(
        url=f"{fake_github.root}/{REPO}/pull/1",
        number=1,
        branch=BRANCH,
        base="main",
        commit_sha=remote_repo.head(BRANCH),
    )
    assert remote_repo.files_at(BRANCH) == {
        **remote_repo.files_at("main"),
        "src/widgets/parser.py": NEW_PARSER,
    }
    assert remote_repo.head("main") == base
    assert remote_repo.commits[result.commit_sha].parents == [base]
    # the blob sha the fake computed is the one real git computes
    assert (
        blob_sha(NEW_PARSER)
        == subprocess.run(
            ["git", "hash-object", "--stdin"], input=NEW_PARSER, capture_output=True, text=True
        ).stdout.strip()
    )


def test_multi_file_pull_request_is_still_one_commit_and_keeps_the_executable_bit(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    base = remote_repo.head("main")
    changes = [
        FileChange("src/widgets/parser.py", NEW_PARSER),
        FileChange("src/widgets/tokens.py", "TOKENS = ()\n"),
        FileChange(SCRIPT, "#!/bin/sh\nexec python -m widgets\n"),
    ]

    result = open_pr(workspace, fake_github, spec_for(*changes))

    writes = fake_github.writes()
    assert [(c.method, c.path) for c in writes] == [
        ("POST", f"{API}/git/blobs"),
        ("POST", f"{API}/git/blobs"),
        ("POST", f"{API}/git/blobs"),
        ("POST", f"{API}/git/trees"),
        ("POST", f"{API}/git/commits"),
        ("POST", f"{API}/git/refs"),
        ("POST", f"{API}/pulls"),
    ]
    assert [c.body["content"] for c in writes[:3]] == [c.new_text for c in changes]
    tree = writes[3].body
    assert tree["base_tree"] == remote_repo.commits[base].tree
    assert [(e["path"], e["mode"], e["sha"]) for e in tree["tree"]] == [
        ("src/widgets/parser.py", "100644", blob_sha(NEW_PARSER)),
        ("src/widgets/tokens.py", "100644", blob_sha("TOKENS = ()\n")),
        (SCRIPT, "100755", blob_sha("#!/bin/sh\nexec python -m widgets\n")),
    ]
    assert writes[4].body["parents"] == [base]
    files = remote_repo.files_at(BRANCH)
    assert {c.path: files[c.path] for c in changes} == {c.path: c.new_text for c in changes}
    assert files["README.md"] == FILES["README.md"]
    assert remote_repo.modes_at(BRANCH)[SCRIPT] == "100755"
    assert remote_repo.commits[result.commit_sha].parents == [base]
    assert len(remote_repo.pulls) == 1


def test_plain_base_url_and_remote_default_branch(tmp_path: Path) -> None:
    """No /api/v3 prefix works too, and refs/remotes/origin/HEAD decides the base."""
    root = make_repo(tmp_path / "widgets")
    git(root, "update-ref", "refs/remotes/origin/develop", "HEAD")
    git(root, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/develop")
    before = snapshot(root)
    with fakes.running_fake_github(prefix="") as fake:
        repo = fake.add_repo(REPO, FILES, default_branch="develop")
        result = open_pr(root, fake, spec_for(FileChange("README.md", "# Widgets!\n")))
        assert fake.base_url == fake.root
        assert route(fake)[1] == ("GET", f"{API}/git/ref/heads/develop")
        assert result.base == "develop"
        assert repo.pulls[0]["base"]["ref"] == "develop"
    assert snapshot(root) == before


def test_enterprise_remote_is_trusted_when_it_matches_the_api_host(
    tmp_path: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    root = make_repo(tmp_path / "widgets", remote="ssh://git@127.0.0.1/acme/widgets.git")
    before = snapshot(root)
    result = open_pr(root, fake_github, spec_for(FileChange("README.md", "# W\n")))
    assert result.number == 1
    assert snapshot(root) == before


def test_unreachable_github_is_a_network_error(workspace: Path) -> None:
    with fakes.running_fake_github() as fake:
        base_url = fake.base_url
    spec = spec_for(FileChange("README.md", "x"))
    err = expect_error(
        "network_error",
        lambda: open_pull_request(workspace, spec, token=TEST_TOKEN, base_url=base_url),
    )
    assert "looking up acme/widgets" in err.message


def test_base_that_moved_elsewhere_is_fine(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    old = remote_repo.head("main")
    new = fake_github.move_branch(REPO, "main", {"README.md": "# Widgets, moved\n"})
    change = FileChange("src/widgets/parser.py", NEW_PARSER)

    result = open_pr(workspace, fake_github, spec_for(change, expected_base_sha=old))

    assert ("GET", f"{API}/compare/{old}...{new}") in route(fake_github)
    assert remote_repo.commits[result.commit_sha].parents == [new]
    assert remote_repo.files_at(BRANCH)["README.md"] == "# Widgets, moved\n"


# --- errors before anything is written -------------------------------------------------


def test_no_token(workspace: Path, fake_github: FakeGitHub) -> None:
    err = expect_error("no_token", lambda: resolve_token(None, {}))
    assert "GITHUB_TOKEN" in err.message and "GH_TOKEN" in err.message
    expect_error("no_token", lambda: resolve_token("  ", {"GITHUB_TOKEN": ""}))
    spec = spec_for(FileChange("README.md", "x"))
    expect_error("no_token", lambda: open_pr(workspace, fake_github, spec, token=""))
    assert fake_github.calls == []


def test_token_precedence() -> None:
    env = {"GITHUB_TOKEN": "from-github-token", "GH_TOKEN": "from-gh-token"}
    assert resolve_token("from-settings", env) == "from-settings"
    assert resolve_token(None, env) == "from-github-token"
    assert resolve_token("", {"GH_TOKEN": "from-gh-token"}) == "from-gh-token"


def test_no_remote(tmp_path: Path, fake_github: FakeGitHub) -> None:
    root = make_repo(tmp_path / "widgets", remote=None)
    before = snapshot(root)
    spec = spec_for(FileChange("README.md", "x"))
    err = expect_error("no_remote", lambda: open_pr(root, fake_github, spec))
    assert "git remote add origin" in err.message
    assert fake_github.calls == []
    assert snapshot(root) == before


def test_remote_that_is_not_github(tmp_path: Path, fake_github: FakeGitHub) -> None:
    root = make_repo(tmp_path / "widgets", remote="https://gitlab.com/acme/widgets.git")
    before = snapshot(root)
    spec = spec_for(FileChange("README.md", "x"))
    err = expect_error("not_github", lambda: open_pr(root, fake_github, spec))
    assert "gitlab.com" in err.message
    assert fake_github.calls == []
    assert snapshot(root) == before


def test_not_a_git_repo(tmp_path: Path, fake_github: FakeGitHub) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "README.md").write_text("hi\n")
    spec = spec_for(FileChange("README.md", "x"))
    expect_error("not_a_git_repo", lambda: open_pr(plain, fake_github, spec))
    expect_error("not_a_git_repo", lambda: open_pr(tmp_path / "missing", fake_github, spec))
    assert fake_github.calls == []
    assert [p.name for p in plain.iterdir()] == ["README.md"]


@pytest.mark.parametrize(
    "path", ["../outside.py", "/etc/passwd", ".git/config", "a\\b.py", "a/./b.py", "a//b.py", ""]
)
def test_unsafe_paths_are_refused(workspace: Path, fake_github: FakeGitHub, path: str) -> None:
    spec = spec_for(FileChange(path, "x"))
    expect_error("invalid_change", lambda: open_pr(workspace, fake_github, spec))
    assert fake_github.calls == []


@pytest.mark.parametrize(
    "fields",
    [
        {"branch": "bad..name"},
        {"branch": "-x"},
        {"title": "  "},
        {"expected_base_sha": "--output=/tmp/x"},
    ],
)
def test_invalid_specs_are_refused(
    workspace: Path, fake_github: FakeGitHub, fields: dict[str, str]
) -> None:
    spec = spec_for(FileChange("README.md", "x"), **fields)
    expect_error("invalid_change", lambda: open_pr(workspace, fake_github, spec))
    doubled = spec_for(FileChange("README.md", "x"), FileChange("README.md", "y"))
    expect_error("invalid_change", lambda: open_pr(workspace, fake_github, doubled))
    expect_error("invalid_change", lambda: open_pr(workspace, fake_github, spec_for()))
    assert fake_github.calls == []


def test_branch_already_exists_writes_nothing(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    theirs = fake_github.move_branch(REPO, BRANCH, {"README.md": "someone else\n"})
    spec = spec_for(FileChange("README.md", "x"))
    err = expect_error("branch_exists", lambda: open_pr(workspace, fake_github, spec))
    assert BRANCH in err.message
    assert fake_github.writes() == []
    assert remote_repo.head(BRANCH) == theirs


def test_branch_created_meanwhile_is_reported_and_left_alone(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    """The existence check passed, then someone pushed the branch: ref creation answers 422."""
    fake_github.on_call("GET", f"/git/ref/heads/{BRANCH}$", lambda f: f.create_branch(REPO, BRANCH))
    spec = spec_for(FileChange("README.md", "x"))
    expect_error("branch_exists", lambda: open_pr(workspace, fake_github, spec))
    assert fake_github.calls[-1].path == f"{API}/git/refs"
    assert fake_github.calls[-1].status == 422
    assert not any(c.method == "DELETE" for c in fake_github.calls)
    assert remote_repo.head(BRANCH) == remote_repo.head("main")
    assert remote_repo.pulls == []


def test_base_moved_under_our_files_writes_nothing(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    old = remote_repo.head("main")
    fake_github.move_branch(REPO, "main", {"src/widgets/parser.py": "def parse(t): ...\n"})
    spec = spec_for(FileChange("src/widgets/parser.py", NEW_PARSER), expected_base_sha=old)
    err = expect_error("base_moved", lambda: open_pr(workspace, fake_github, spec))
    assert "src/widgets/parser.py" in err.message
    assert fake_github.writes() == []
    assert f"refs/heads/{BRANCH}" not in remote_repo.refs


def test_base_rewritten_or_unknown_writes_nothing(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    old = remote_repo.head("main")
    fake_github.move_branch(REPO, "side", {"README.md": "side\n"})
    side = remote_repo.head("side")
    fake_github.create_branch(REPO, "main", old)
    spec = spec_for(FileChange("README.md", "x"), expected_base_sha=side)
    expect_error("base_moved", lambda: open_pr(workspace, fake_github, spec))  # main is behind

    unknown = spec_for(FileChange("README.md", "x"), expected_base_sha="deadbeef" * 5)
    err = expect_error("base_unknown", lambda: open_pr(workspace, fake_github, unknown))
    assert "push it first" in err.message
    assert fake_github.writes() == []


def test_missing_base_branch(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    spec = spec_for(FileChange("README.md", "x"), base="release")
    err = expect_error("no_base_branch", lambda: open_pr(workspace, fake_github, spec))
    assert "'release'" in err.message
    assert fake_github.writes() == []


# --- rate limits -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["secondary_429_retry_after", "primary_403_reset"])
def test_rate_limited_then_succeeds_after_a_short_wait(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo, kind: str
) -> None:
    if kind == "secondary_429_retry_after":
        fake_github.secondary_rate_limit(1, retry_after=1)
    else:
        fake_github.rate_limit(1, reset_in=0)
    started = time.monotonic()
    result = open_pr(workspace, fake_github, spec_for(FileChange("README.md", "x\n")))
    waited = time.monotonic() - started
    assert 0.9 <= waited < 5
    first, second = fake_github.calls[:2]
    assert (first.path, second.path) == (API, API)
    assert first.status in (403, 429) and second.status == 200
    assert result.number == 1


def test_rate_limited_beyond_the_wait_fails_fast_and_writes_nothing(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    fake_github.rate_limit(3, reset_in=3600)
    spec = spec_for(FileChange("README.md", "x"))
    started = time.monotonic()
    err = expect_error("rate_limited", lambda: open_pr(workspace, fake_github, spec))
    assert time.monotonic() - started < 1
    assert "resets at" in err.message and "UTC" in err.message
    assert err.resets_at is not None
    assert abs(err.resets_at.timestamp() - (time.time() + 3600)) < 10
    assert len(fake_github.calls) == 1
    assert fake_github.writes() == []


def test_rate_limited_again_after_the_retry_fails(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    fake_github.secondary_rate_limit(2, retry_after=0)
    spec = spec_for(FileChange("README.md", "x"))
    expect_error("rate_limited", lambda: open_pr(workspace, fake_github, spec))
    assert [c.status for c in fake_github.calls] == [429, 429]
    assert fake_github.writes() == []


def test_rate_limited_when_opening_the_pull_deletes_the_branch_again(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    fake_github.on_call("POST", "/git/refs$", lambda f: f.rate_limit(1, reset_in=3600))
    spec = spec_for(FileChange("README.md", "x"))
    err = expect_error("rate_limited", lambda: open_pr(workspace, fake_github, spec))
    assert "deleted again" in err.message
    assert route(fake_github)[-2:] == [
        ("POST", f"{API}/pulls"),
        ("DELETE", f"{API}/git/refs/heads/{BRANCH}"),
    ]
    assert f"refs/heads/{BRANCH}" not in remote_repo.refs


# --- failures after the branch exists --------------------------------------------------


def test_server_error_on_pull_creation_deletes_the_branch_again(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    fake_github.fail("POST", "/pulls$", 500)
    spec = spec_for(FileChange("README.md", "x"))
    err = expect_error("github_error", lambda: open_pr(workspace, fake_github, spec))
    assert err.status == 500
    assert "500" in err.message and "Server Error" in err.message
    assert "deleted again" in err.message
    assert route(fake_github)[-3:] == [
        ("POST", f"{API}/git/refs"),
        ("POST", f"{API}/pulls"),
        ("DELETE", f"{API}/git/refs/heads/{BRANCH}"),
    ]
    assert f"refs/heads/{BRANCH}" not in remote_repo.refs
    assert remote_repo.pulls == []


def test_failed_rollback_is_reported(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    fake_github.fail("POST", "/pulls$", 500)
    fake_github.fail("DELETE", "/git/refs/", 503, message="Unavailable")
    spec = spec_for(FileChange("README.md", "x"))
    err = expect_error("github_error", lambda: open_pr(workspace, fake_github, spec))
    assert "could not be deleted" in err.message and BRANCH in err.message


def test_validation_errors_carry_githubs_details(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    remote_repo.pulls.append({"head": {"ref": BRANCH}, "state": "open"})
    spec = spec_for(FileChange("README.md", "x"))
    err = expect_error("github_error", lambda: open_pr(workspace, fake_github, spec))
    assert err.status == 422
    assert "A pull request already exists" in err.message
    assert f"refs/heads/{BRANCH}" not in remote_repo.refs


# --- the token stays secret ------------------------------------------------------------


def test_token_is_scrubbed_from_errors_logs_and_the_pull_request(
    workspace: Path,
    fake_github: FakeGitHub,
    remote_repo: fakes.FakeRepo,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_github.fail("POST", "/git/blobs$", 502, message=f"proxy echoed token {TEST_TOKEN}")
    spec = spec_for(FileChange("README.md", "x"))
    err = expect_error("github_error", lambda: open_pr(workspace, fake_github, spec))
    assert "proxy echoed token ***" in err.message

    leaky = spec_for(
        FileChange("README.md", "x"),
        title=f"Tidy {TEST_TOKEN}",
        body=f"Context: token={TEST_TOKEN}",
    )
    open_pr(workspace, fake_github, leaky)
    pull = fake_github.calls[-1].body
    assert pull["body"] == "Context: token=***"
    assert pull["title"] == "Tidy ***"
    assert TEST_TOKEN not in repr([c.body for c in fake_github.calls])
    assert TEST_TOKEN not in caplog.text


def test_a_change_containing_the_token_is_refused(workspace: Path, fake_github: FakeGitHub) -> None:
    spec = spec_for(FileChange(".env", f"GITHUB_TOKEN={TEST_TOKEN}\n"))
    expect_error("token_in_change", lambda: open_pr(workspace, fake_github, spec))
    assert fake_github.calls == []


def test_bad_credentials(
    workspace: Path, fake_github: FakeGitHub, remote_repo: fakes.FakeRepo
) -> None:
    fake_github.token = "ghp_someoneElsesToken"
    spec = spec_for(FileChange("README.md", "x"))
    err = expect_error("github_error", lambda: open_pr(workspace, fake_github, spec))
    assert err.status == 401 and "Bad credentials" in err.message


def test_scrub() -> None:
    assert scrub("a s3cret b s3cret", ["s3cret"]) == "a *** b ***"
    assert scrub("abc", ["", None, "a"]) == "abc"
    assert scrub("x longsecret", ["long", "longsecret"]) == "x ***"
    assert scrub("https://me:pw@github.com/a/b.git", []) == "https://***@github.com/a/b.git"


# --- remotes and base branches ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "api"),
    [
        ("https://github.com/acme/widgets.git", "github.com", "https://api.github.com"),
        ("https://github.com/acme/widgets", "github.com", "https://api.github.com"),
        ("https://github.com/acme/widgets/", "github.com", "https://api.github.com"),
        ("https://x-access:tok@github.com/acme/widgets.git", "github.com", None),
        ("git@github.com:acme/widgets.git", "github.com", None),
        ("github.com:acme/widgets", "github.com", None),
        ("ssh://git@github.com/acme/widgets.git", "github.com", None),
        ("ssh://git@ssh.github.com:443/acme/widgets.git", "github.com", None),
        ("git@github.acme.corp:acme/widgets.git", "github.acme.corp", None),
        (
            "https://github.acme.corp/acme/widgets.git",
            "github.acme.corp",
            "https://github.acme.corp/api/v3",
        ),
        ("ssh://git@github.acme.corp:2222/acme/widgets.git", "github.acme.corp", None),
        ("https://octo.ghe.com/acme/widgets.git", "octo.ghe.com", "https://api.octo.ghe.com"),
    ],
)
def test_parse_remote_url(url: str, host: str, api: str | None) -> None:
    remote = parse_remote_url(url, enterprise_hosts=["github.acme.corp"])
    assert remote == GitHubRemote(host=host, owner="acme", name="widgets")
    assert remote.full_name == REPO
    if api:
        assert remote.api_url == api


@pytest.mark.parametrize(
    "url",
    [
        "https://gitlab.com/acme/widgets.git",
        "https://github.acme.corp/acme/widgets.git",  # enterprise host not configured
        "/srv/git/widgets.git",
        "file:///srv/git/widgets.git",
        "../widgets",
        "https://github.com/acme",
        "https://github.com/acme/widgets/tree/main",
    ],
)
def test_parse_remote_url_refuses(url: str) -> None:
    err = expect_error("not_github", lambda: parse_remote_url(url))
    assert err.message


def test_credentials_in_a_remote_url_never_reach_the_message() -> None:
    err = expect_error(
        "not_github", lambda: parse_remote_url("https://bob:hunter2secret@gitlab.com/a/b.git")
    )
    assert "hunter2secret" not in err.message


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("https://github.com/acme/widgets.git", "github.com"),
        ("git@github.com:acme/widgets.git", "github.com"),
        ("ssh://git@github.acme.corp/acme/widgets.git", "github.acme.corp"),
    ],
)
def test_find_remote_in_a_real_clone(tmp_path: Path, remote: str, expected: str) -> None:
    root = make_repo(tmp_path / "widgets", remote=remote)
    found = find_remote(root / "src", enterprise_hosts=["github.acme.corp"])
    assert (found.host, found.full_name) == (expected, REPO)


def test_enterprise_remote_needs_its_api_url(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "widgets", remote="git@github.acme.corp:acme/widgets.git")
    err = expect_error("not_github", lambda: find_remote(root))
    assert "https://github.acme.corp/api/v3" in err.message


def test_base_branch_prefers_the_remote_default_then_the_current_branch(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "widgets")
    assert base_branch(root) == "main"
    git(root, "checkout", "-q", "-b", "feature")
    assert base_branch(root) == "feature"
    git(root, "update-ref", "refs/remotes/origin/trunk", "HEAD")
    git(root, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/trunk")
    assert base_branch(root) == "trunk"
    git(root, "symbolic-ref", "--delete", "refs/remotes/origin/HEAD")
    git(root, "checkout", "-q", "--detach")
    assert base_branch(root) == "main"


def test_only_remote_is_used_when_there_is_no_origin(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "widgets", remote=None)
    git(root, "remote", "add", "upstream", "git@github.com:acme/widgets.git")
    assert find_remote(root).full_name == REPO
    git(root, "remote", "add", "fork", "git@github.com:me/widgets.git")
    expect_error("no_remote", lambda: find_remote(root))


# --- text ------------------------------------------------------------------------------


def test_render_pr_body() -> None:
    body = render_pr_body(
        "Parsing and tokenising were tangled; @alice asked for this. Fixes #12.",
        ["Prefer small pure functions\nin parsers", "  "],
        ["src/widgets/parser.py", "odd`name.py"],
        "openai/gpt-4o-mini",
    )
    assert body.startswith("## Why\n\nParsing and tokenising were tangled;")
    assert "## Learnings that led to this\n\n- Prefer small pure functions in parsers\n" in body
    assert "- `src/widgets/parser.py`" in body
    assert "- `` odd`name.py ``" in body
    assert body.rstrip().endswith("Opened by Kaizen with `openai/gpt-4o-mini`.")
    assert "@alice" not in body and "@\u200balice" in body
    assert "Fixes #12" not in body
    bare = render_pr_body("Why.", [], ["a.py"], None)
    assert "Learnings" not in bare
    assert bare.rstrip().endswith("Opened by Kaizen.")


@pytest.mark.parametrize(
    ("title", "fingerprint", "expected"),
    [
        ("Tidy the parser", "0123abcdEF99", "kaizen/refactor-tidy-the-parser-0123abcd"),
        ("..Weird: title/with~^?*[ stuff.lock", "f" * 40, None),
        ("", "", "kaizen/refactor-change"),
        ("ünïcode ✓ only", "@{x}", None),
    ],
)
def test_branch_name_for(title: str, fingerprint: str, expected: str | None) -> None:
    name = branch_name_for(title, fingerprint)
    if expected:
        assert name == expected
    assert name.startswith("kaizen/refactor-")
    subprocess.run(["git", "check-ref-format", "--branch", name], check=True, capture_output=True)
    assert len(branch_name_for("x" * 500, "a" * 40)) < 80
