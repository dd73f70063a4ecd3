"""Pydantic is told there are no plugins, so reading a score never imports their search."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_defining_the_models_does_not_import_package_metadata() -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from mzt.score.loader import load_score\n"
        "from mzt.instruments import profile\n"
        "load_score(Path('examples/hello.yaml'))\n"
        "print('importlib.metadata' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "False"


def test_it_is_idempotent_and_answers_no_plugins() -> None:
    from mzt.support.pydantic_setup import skip_plugin_discovery

    skip_plugin_discovery()
    skip_plugin_discovery()
    loader = sys.modules["pydantic.plugin._loader"]
    assert list(loader.get_plugins()) == []
