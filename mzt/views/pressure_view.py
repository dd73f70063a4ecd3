"""The machine's pressure as `status` and `top` show it (`mzt doctor` measures afresh)."""

from __future__ import annotations

from datetime import datetime

from mzt.instruments import ratelimits
from mzt.machine import pressure
from mzt.machine.config import MachineConfig


def reading(config: MachineConfig | None = None, now: datetime | None = None) -> pressure.Pressure:
    """The runs' shared reading while it is recent, else one measured now; never written."""
    if config is None:
        from mzt.machine.slot_waits import view_config

        config = view_config()
    return pressure.look(config, rate_limits=ratelimits.all_records, now=now)
