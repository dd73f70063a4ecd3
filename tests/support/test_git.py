from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mzt.support import git

pytestmark = pytest.mark.skipif(not git.available(), reason="git is needed")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "a.txt").write_text("a\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "one"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
            cwd=folder,
            check=True,
        )
    return folder


def test_worktree_lifecycle(repo: Path, tmp_path: Path) -> None:
    assert git.toplevel(repo / ".git" / "..") == repo.resolve()
    commit = git.commit_of(repo, None)
    assert len(commit) == 40 and commit == git.commit_of(repo, "HEAD")
    tree = tmp_path / "trees" / "job"
    tree.parent.mkdir()
    git.add_detached(repo, tree, commit)
    assert git.toplevel(tree) == tree.resolve() and (tree / "a.txt").exists()
    git.lock(repo, tree, "mzt run job pid 1")
    git.lock(repo, tree, "mzt run job pid 2")  # a stale lock is replaced, not an error
    listing = git.run(["worktree", "list", "--porcelain"], cwd=repo)
    assert "locked mzt run job pid 2" in listing
    git.unlock(repo, tree)
    git.unlock(repo, tree)  # not locked: fine
    (tree / "a.txt").write_text("dirty\n")
    git.remove(repo, tree)  # --force: uncommitted changes do not stop it
    assert not tree.exists()
    assert str(tree) not in git.run(["worktree", "list"], cwd=repo)


def test_outside_a_repository(tmp_path: Path) -> None:
    assert git.toplevel(tmp_path) is None
    assert git.toplevel(tmp_path / "missing") is None


def test_a_ref_that_names_nothing_or_looks_like_an_option(repo: Path) -> None:
    with pytest.raises(git.GitError, match="'nope' names no commit"):
        git.commit_of(repo, "nope")
    with pytest.raises(git.GitError, match="is not a branch, tag or commit"):
        git.commit_of(repo, "--output=/tmp/x")


def test_stderr_is_in_the_error_redacted(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "ghp_" + "a1B2c3D4" * 4 + "zz99"
    monkeypatch.setenv("GITHUB_TOKEN", secret)
    with pytest.raises(git.GitError) as caught:
        git.run(["checkout", secret], cwd=repo)
    assert "did not match" in caught.value.detail
    assert secret not in str(caught.value)


def test_missing_git_and_timeouts(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(git.GitError, match="no answer within"):
        git.run(["status"], cwd=repo, timeout=1e-6)
    monkeypatch.setenv("PATH", str(repo / "nothing-here"))
    with pytest.raises(git.GitError, match="git is not installed"):
        git.run(["status"], cwd=repo)
