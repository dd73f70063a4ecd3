"""The run loop's collector setting: cycles collected, long-lived objects never walked."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("enabled_before", [True, False])
def test_the_loop_collects_cycles_but_never_walks_what_existed_before_it(
    enabled_before: bool,
) -> None:
    import gc

    from mzt.support.collector import long_lived

    was = gc.isenabled()
    (gc.enable if enabled_before else gc.disable)()
    try:
        before = gc.get_freeze_count()
        with long_lived():
            # The entry point starts `mzt run` with the collector off; the loop needs it.
            assert gc.isenabled()
            assert gc.get_freeze_count() > before
        assert gc.isenabled() is enabled_before
        assert gc.get_freeze_count() == before
    finally:
        gc.unfreeze()
        (gc.enable if was else gc.disable)()
