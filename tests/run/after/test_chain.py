"""`run_job` pieces: depth, argv, the concert log, waiting for the parent's lock."""

from __future__ import annotations

import os
import stat
import sys
import threading
import time
from pathlib import Path

from mzt.run.after import chain
from mzt.score.models import PostSuccessHook
from mzt.score.models.hooks import ConcertConfig
from tests.state.lock_child import lock_held_elsewhere


def context(tmp_path: Path, **concert: object) -> chain.ChainContext:
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    return chain.ChainContext(
        workspace=workspace,
        job_id="job",
        fields={"workspace": str(workspace), "job_id": "job", "sheet_count": "3"},
        concert=ConcertConfig(**concert),
        environ={chain.CHAIN_DEPTH_ENV: "2"},
        log_dir=workspace / "hooks",
    )


def test_chain_depth_reads_the_environment() -> None:
    assert chain.chain_depth({}) == 0
    assert chain.chain_depth({chain.CHAIN_DEPTH_ENV: "3"}) == 3
    assert chain.chain_depth({chain.CHAIN_DEPTH_ENV: "-4"}) == 0
    assert chain.chain_depth({chain.CHAIN_DEPTH_ENV: "x"}) == 0


def test_argv_is_mzt_run_with_fresh_and_the_workspace(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    hook = PostSuccessHook(type="run_job", job_path="{workspace}/next.yaml", fresh=True)
    argv, job_path, workspace = chain.chain_argv(hook, ctx)
    assert argv[:4] == (sys.executable, "-m", "mzt", "run")
    assert argv[4:] == (str(ctx.workspace / "next.yaml"), "--fresh", "-w", str(ctx.workspace))
    assert (job_path, workspace) == (ctx.workspace / "next.yaml", ctx.workspace)
    own = PostSuccessHook(type="run_job", job_path="n.yaml", job_workspace="/x/{job_id}")
    assert chain.chain_argv(own, ctx)[0][4:] == ("n.yaml", "-w", "/x/job")
    apart = context(tmp_path, inherit_workspace=False)
    assert chain.chain_argv(PostSuccessHook(type="run_job", job_path="n.yaml"), apart)[0][4:] == (
        "n.yaml",
    )


def test_concert_log_lines_are_private_and_one_per_step(tmp_path: Path) -> None:
    ctx = context(tmp_path, concert_log_path="logs/{job_id}.log")
    assert chain.concert_log_path(ctx) == ctx.workspace / "logs" / "job.log"
    chain.log_step(ctx, "mzt run a.yaml", "started pid 1")
    chain.log_step(ctx, "mzt run\nb.yaml", "failed: boom")
    path = chain.concert_log_path(ctx)
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and "job=job  depth=2  mzt run a.yaml  started pid 1" in lines[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert chain.concert_log_path(context(tmp_path)) == ctx.workspace / "concert.log"


def test_wait_for_parent_waits_only_for_the_named_holder(tmp_path: Path) -> None:
    lock = tmp_path / "job.lock"
    chain.wait_for_parent(lock, {})  # not a chained run: no wait at all
    with lock_held_elsewhere(lock) as holder:
        started = time.monotonic()
        chain.wait_for_parent(lock, {chain.CHAIN_PARENT_ENV: str(os.getpid())})
        assert time.monotonic() - started < 1  # someone else's lock: the run lock reports it
        done = threading.Event()
        waiter = threading.Thread(
            target=lambda: (
                chain.wait_for_parent(lock, {chain.CHAIN_PARENT_ENV: str(holder.pid)}),
                done.set(),
            )
        )
        waiter.start()
        assert not done.wait(0.5)  # the parent still holds it
    waiter.join(timeout=10)
    assert done.is_set()
