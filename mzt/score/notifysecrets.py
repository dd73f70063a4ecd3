"""Which notification settings hold secrets, and the copy of a score that leaves them out.

A webhook URL often carries its key (a Slack webhook URL always does) and an SMTP password
is a password; none of them matches a credential shape the redactor knows. The checkpoint
keeps a copy of the score (to resume a job whose file is gone), so that copy gets
`NOT_STORED` in their place. A ``*_env`` setting names an environment variable that is
read when a message is sent: the copy keeps the name, and no value ever reaches a file.
"""

from __future__ import annotations

from typing import Any

# Settings whose literal values are secrets (or carry them, as URLs with tokens do).
SECRET_KEYS = frozenset({"url", "webhook_url", "smtp_user", "smtp_password", "password", "token"})
NOT_STORED = "[not stored]"


def without_notification_secrets(data: Any) -> Any:
    """``data`` (a score mapping) with every secret notification setting replaced."""
    if not isinstance(data, dict) or not isinstance(data.get("notifications"), list):
        return data
    return {**data, "notifications": [_strip(item) for item in data["notifications"]]}


def _strip(item: Any) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get("config"), dict):
        return item
    config: dict[str, Any] = {}
    for key, value in item["config"].items():
        if key in SECRET_KEYS and value:
            config[key] = NOT_STORED
        elif key == "headers" and isinstance(value, dict):
            # "Bearer ${TOKEN}" names its secret; a header without a reference may be one.
            config[key] = {k: v if "${" in str(v) else NOT_STORED for k, v in value.items()}
        else:
            config[key] = value
    return {**item, "config": config}
