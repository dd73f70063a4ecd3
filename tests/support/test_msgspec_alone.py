"""msgspec imported without typing_extensions, and still with it when it must have it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
from mzt.support import msgspec_alone
msgspec_alone.install()
from mzt.state.records import ValidationDetailDict
import msgspec
hidden = "typing_extensions" not in sys.modules
class S(msgspec.Struct):
    details: list[ValidationDetailDict]
decoded = msgspec.json.decode(b'{"details": [{"passed": true}]}', type=S)
refused = False
try:
    msgspec.json.decode(b'{"details": [{"rule_type": "x"}]}', type=S)
except msgspec.ValidationError:
    refused = True  # "passed" is Required
import typing_extensions  # a later importer still gets it
print(json.dumps({"hidden": hidden, "decoded": decoded.details, "refused": refused,
                  "later": typing_extensions.__name__, "finders": len(sys.meta_path)}))
"""


def _run(probe: str, path: str | None = None) -> dict[str, object]:
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = os.pathsep.join([path, *sys.path])
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout)
    return found


def test_msgspec_loads_and_checks_types_without_typing_extensions() -> None:
    found = _run(PROBE)
    assert found["hidden"] is True and found["refused"] is True
    assert found["decoded"] == [{"passed": True}] and found["later"] == "typing_extensions"


def test_the_finder_is_gone_after_the_first_import() -> None:
    probe = (
        "import sys\nbefore = len(sys.meta_path)\n"
        "from mzt.support import msgspec_alone\nmsgspec_alone.install()\n"
        "assert len(sys.meta_path) == before + 1\nimport msgspec\n"
        "assert len(sys.meta_path) == before\nprint('{}')\n"
    )
    assert _run(probe) == {}


def test_a_msgspec_that_needs_typing_extensions_is_imported_with_it(tmp_path: Path) -> None:
    package = tmp_path / "msgspec"
    package.mkdir()
    (package / "__init__.py").write_text("import typing_extensions\nMARK = 'needs it'\n")
    probe = (
        "import json, sys\nfrom mzt.support import msgspec_alone\nmsgspec_alone.install()\n"
        "import msgspec\n"
        "print(json.dumps({'mark': msgspec.MARK, 'te': 'typing_extensions' in sys.modules}))\n"
    )
    assert _run(probe, str(tmp_path)) == {"mark": "needs it", "te": True}
