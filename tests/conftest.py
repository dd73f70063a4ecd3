from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

# A suite started in the background (`pytest &`, nohup, some CI runners) inherits SIGINT
# ignored, and so would every mzt it starts: mzt keeps an inherited SIG_IGN, as users of
# nohup expect. The tests that interrupt a run need SIGINT delivered; a handler set here
# becomes the default again in each child at exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile mzt's bytecode once, before the suite starts thousands of `mzt` processes.

    An editable install has no bytecode until something writes it, and an environment
    with PYTHONDONTWRITEBYTECODE set (some CI images) never does: every process would
    then compile each module it imports from source, which made the suite about 40 %
    slower. Reading existing bytecode is unaffected by that variable. Done by the main
    process only, before pytest-xdist starts its workers.
    """
    if hasattr(session.config, "workerinput"):
        return
    import compileall

    import mzt

    compileall.compile_dir(Path(mzt.__file__).parent, quiet=2, workers=0)


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own MZT_HOME and no colour; the real home is never touched."""
    home = tmp_path_factory.mktemp("mzt-home")
    monkeypatch.setenv("MZT_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture(autouse=True)
def _environment_unchanged() -> object:
    before = dict(os.environ)
    yield
    # monkeypatch restores what it set; anything else leaking out is a bug in the test.
    leaked = {k for k in set(os.environ) ^ set(before) if not k.startswith(("PYTEST_", "MZT_HOME"))}
    assert not leaked, f"a test changed the environment: {sorted(leaked)}"
