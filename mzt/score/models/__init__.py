"""Score models: the validated, immutable form of a score file.

A score is parsed by `mzt.score.loader`, expanded into sheets by `mzt.score.plan`; nothing
here does I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mzt.support.lazy import exports

if TYPE_CHECKING:
    from mzt.score.models.hooks import ConcertConfig, NotificationConfig, PostSuccessHook
    from mzt.score.models.instruments import (
        KNOWN_CONFIG_KEYS,
        BackendConfig,
        InstrumentAlias,
        InstrumentConfig,
        MovementDef,
    )
    from mzt.score.models.model import DEFAULT_INSTRUMENT, Score
    from mzt.score.models.policies import (
        CircuitBreakerConfig,
        CostLimitConfig,
        CrossSheetConfig,
        ParallelConfig,
        RateLimitConfig,
        RetryConfig,
        StaleDetectionConfig,
    )
    from mzt.score.models.prompt import PromptConfig
    from mzt.score.models.sheet import InjectionItem, SheetConfig, SkipWhenCommand
    from mzt.score.models.validation import REQUIRED_FIELDS, ValidationRule

# Loaded on first use: an attempt run on a Slurm node needs its validation rules, not the
# whole score model.
_EXPORTS = {
    "BackendConfig": "mzt.score.models.instruments",
    "CircuitBreakerConfig": "mzt.score.models.policies",
    "ConcertConfig": "mzt.score.models.hooks",
    "CostLimitConfig": "mzt.score.models.policies",
    "CrossSheetConfig": "mzt.score.models.policies",
    "DEFAULT_INSTRUMENT": "mzt.score.models.model",
    "InjectionItem": "mzt.score.models.sheet",
    "InstrumentAlias": "mzt.score.models.instruments",
    "InstrumentConfig": "mzt.score.models.instruments",
    "KNOWN_CONFIG_KEYS": "mzt.score.models.instruments",
    "MovementDef": "mzt.score.models.instruments",
    "NotificationConfig": "mzt.score.models.hooks",
    "ParallelConfig": "mzt.score.models.policies",
    "PostSuccessHook": "mzt.score.models.hooks",
    "PromptConfig": "mzt.score.models.prompt",
    "REQUIRED_FIELDS": "mzt.score.models.validation",
    "RateLimitConfig": "mzt.score.models.policies",
    "RetryConfig": "mzt.score.models.policies",
    "Score": "mzt.score.models.model",
    "SheetConfig": "mzt.score.models.sheet",
    "SkipWhenCommand": "mzt.score.models.sheet",
    "StaleDetectionConfig": "mzt.score.models.policies",
    "ValidationRule": "mzt.score.models.validation",
}

__getattr__ = exports("mzt.score.models", _EXPORTS, globals())

__all__ = [
    "DEFAULT_INSTRUMENT",
    "KNOWN_CONFIG_KEYS",
    "REQUIRED_FIELDS",
    "BackendConfig",
    "CircuitBreakerConfig",
    "ConcertConfig",
    "CostLimitConfig",
    "CrossSheetConfig",
    "InjectionItem",
    "InstrumentAlias",
    "InstrumentConfig",
    "MovementDef",
    "NotificationConfig",
    "ParallelConfig",
    "PostSuccessHook",
    "PromptConfig",
    "RateLimitConfig",
    "RetryConfig",
    "Score",
    "SheetConfig",
    "SkipWhenCommand",
    "StaleDetectionConfig",
    "ValidationRule",
]
