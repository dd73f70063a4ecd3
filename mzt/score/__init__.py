"""Score models: the validated, immutable form of a score file.

A score is parsed by `mzt.loader`, expanded into sheets by `mzt.plan`; nothing here does I/O.
"""

from __future__ import annotations

from mzt.score.hooks import ConcertConfig, NotificationConfig, PostSuccessHook
from mzt.score.instruments import (
    KNOWN_CONFIG_KEYS,
    BackendConfig,
    InstrumentAlias,
    InstrumentConfig,
    MovementDef,
)
from mzt.score.model import DEFAULT_INSTRUMENT, Score
from mzt.score.policies import (
    CircuitBreakerConfig,
    CostLimitConfig,
    CrossSheetConfig,
    ParallelConfig,
    RateLimitConfig,
    RetryConfig,
    StaleDetectionConfig,
)
from mzt.score.prompt import PromptConfig
from mzt.score.sheet import InjectionItem, SheetConfig, SkipWhenCommand
from mzt.score.validation import REQUIRED_FIELDS, ValidationRule

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
