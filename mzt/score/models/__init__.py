"""Score models: the validated, immutable form of a score file.

A score is parsed by `mzt.score.loader`, expanded into sheets by `mzt.score.plan`; nothing
here does I/O.
"""

from __future__ import annotations

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
