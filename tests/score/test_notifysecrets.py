"""The score copy a checkpoint keeps holds no notification secret."""

from __future__ import annotations

from mzt.score.notifysecrets import NOT_STORED, without_notification_secrets


def test_literal_secrets_are_replaced_and_references_kept() -> None:
    data = {
        "name": "x",
        "notifications": [
            {"type": "webhook", "config": {"url": "https://h/k?key=abc", "timeout": 5}},
            {"type": "slack", "config": {"webhook_url_env": "SLACK_URL"}},
            {
                "type": "email",
                "config": {"smtp_password": "pw", "smtp_password_env": "PW", "to": "a@b"},
            },
            {"type": "webhook", "config": {"url_env": "U", "headers": {"A": "k1", "B": "T ${X}"}}},
            {"type": "desktop"},
        ],
    }
    stored = without_notification_secrets(data)
    configs = [item.get("config") for item in stored["notifications"]]
    assert configs == [
        {"url": NOT_STORED, "timeout": 5},
        {"webhook_url_env": "SLACK_URL"},
        {"smtp_password": NOT_STORED, "smtp_password_env": "PW", "to": "a@b"},
        {"url_env": "U", "headers": {"A": NOT_STORED, "B": "T ${X}"}},
        None,
    ]
    assert data["notifications"][0]["config"]["url"] == "https://h/k?key=abc"  # not changed


def test_scores_without_notifications_are_given_back_as_they_are() -> None:
    data = {"name": "x"}
    assert without_notification_secrets(data) is data
    assert without_notification_secrets([1]) == [1]
