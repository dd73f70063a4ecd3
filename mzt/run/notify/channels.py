"""Sending one notification: a JSON webhook, a Slack-style webhook, an e-mail, a desktop popup.

Runs on the notification thread only (`mzt.run.notify.notifying`), and only in runs whose score
has notifications: the standard library's HTTP and SMTP clients are imported here, when a
message is sent, never at start-up. Every send is bounded: each network operation of it
by the channel's timeout (`config.timeout`, at most `MAX_SEND_SECONDS`).

Secrets (`url`, `webhook_url`, `smtp_password`… or the variables their ``*_env`` forms
name, read here at send time) go into the request and nowhere else: a failure is a
`SendFailed` whose reason names no URL and is redacted of every secret the channel used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mzt import __version__
from mzt.score.notifysecrets import NOT_STORED
from mzt.support import records
from mzt.support.redact import Redactor, get_redactor

MAX_SEND_SECONDS = 10.0
_ENV_REFERENCE = re.compile(r"\$\{(\w+)\}")


@records.record(frozen=True)
class Message:
    """What one event says: the JSON payload, and a title and text for people."""

    event: str
    payload: dict[str, Any]
    title: str
    text: str


class SendFailed(Exception):
    """A message that did not go out, and why.

    ``send`` raises it on the sending thread with the raw reason and the secrets the
    channel used; :meth:`cleaned` is what is safe to show and to store, and is asked by
    the run's main thread. Redacting runs RE2's C++ code, and a run that gives up on a
    slow endpoint may exit while the sending thread wakes from its timeout: C++ code
    still running on a daemon thread when the interpreter shuts down aborts the whole
    process, so that thread never redacts.
    """

    def __init__(self, reason: str, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.secrets = secrets

    def cleaned(self) -> str:
        """The reason without any secret the channel used or any known credential."""
        # Very short values (a header "1") would mangle the reason and are no secret worth it.
        kept = [s for s in self.secrets if len(s) >= 4]
        return get_redactor().redact(Redactor(kept).redact(self.reason))


def timeout_of(config: Mapping[str, Any]) -> float:
    """The channel's bound for each network operation (its `timeout`, capped)."""
    value = config.get("timeout")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return min(float(value), MAX_SEND_SECONDS)
    return MAX_SEND_SECONDS


def send(kind: str, config: Mapping[str, Any], message: Message) -> None:
    """Send ``message`` on one channel; raise `SendFailed` when it did not go out."""
    secrets: list[str] = []
    try:
        _SENDERS[kind](config, message, secrets, timeout_of(config))
    except SendFailed as exc:
        raise SendFailed(exc.reason, tuple(secrets)) from None
    except Exception as exc:  # a sender must never fail the job; say what happened
        raise SendFailed(_describe(exc), tuple(secrets)) from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def setting(config: Mapping[str, Any], key: str, secrets: list[str]) -> str | None:
    """``config[key]``, else the environment variable ``config[key + "_env"]`` names."""
    value = config.get(key)
    if value == NOT_STORED:
        raise SendFailed(
            f"its `{key}` is not stored with the job (the score file is gone): "
            f"resume with --config, or name it with `{key}_env`"
        )
    if not value and config.get(f"{key}_env"):
        name = str(config[f"{key}_env"])
        value = os.environ.get(name)
        if not value:
            raise SendFailed(f"the environment variable {name} (`{key}_env`) is not set")
    if value:
        secrets.append(str(value))
    return str(value) if value else None


# --- webhooks ------------------------------------------------------------------------------


def _post_json(url: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> None:
    import urllib.error
    import urllib.request

    if not url.lower().startswith(("http://", "https://")):
        raise SendFailed("the URL is not an http:// or https:// URL")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked just above
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"mzt/{__version__}", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read(65536)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the answer's connection
        raise SendFailed(f"the server answered HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        raise SendFailed(
            "no answer in time" if isinstance(reason, TimeoutError) else str(reason)
        ) from None


def _headers(config: Mapping[str, Any], secrets: list[str]) -> dict[str, str]:
    raw = config.get("headers")
    if not isinstance(raw, dict):
        return {}
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if value == NOT_STORED:
            raise SendFailed(f"its header {name} is not stored with the job")
        text = _ENV_REFERENCE.sub(lambda m: os.environ.get(m[1], ""), str(value))
        secrets.append(text)
        headers[str(name)] = text
    return headers


def _webhook(config: Mapping[str, Any], message: Message, secrets: list[str], t: float) -> None:
    url = setting(config, "url", secrets)
    if url is None:
        raise SendFailed("no `url` or `url_env`")
    body = dict(message.payload)
    if config.get("include_metadata", True):
        body["metadata"] = {"source": "mzt", "version": __version__}
    _post_json(url, body, _headers(config, secrets), t)


_COLORS = {"job_complete": "#36a64f", "job_failed": "#d00000", "sheet_failed": "#ff9800"}


def slack_body(config: Mapping[str, Any], message: Message) -> dict[str, Any]:
    """Slack's incoming-webhook JSON (also what Mattermost and Rocket.Chat accept)."""
    payload = message.payload
    fields = [
        {
            "title": "Progress",
            "value": f"{payload['done']}/{payload['total']} sheets",
            "short": True,
        }
    ]
    if payload.get("error"):
        fields.append({"title": "Error", "value": str(payload["error"])[:500], "short": False})
    body: dict[str, Any] = {
        "text": f"{message.title}: {message.text}",
        "attachments": [
            {
                "fallback": f"{message.title}: {message.text}",
                "color": _COLORS.get(message.event, "#439fe0"),
                "title": message.title,
                "fields": fields,
                "footer": f"{payload['job_name']} ({payload['job_id']})",
            }
        ],
    }
    for key in ("channel", "username", "icon_emoji"):
        if config.get(key):
            body[key] = str(config[key])
    return body


def _slack(config: Mapping[str, Any], message: Message, secrets: list[str], t: float) -> None:
    url = setting(config, "webhook_url", secrets)
    if url is None:
        raise SendFailed("no `webhook_url` or `webhook_url_env`")
    _post_json(url, slack_body(config, message), {}, t)


# --- e-mail and desktop --------------------------------------------------------------------


def _email(config: Mapping[str, Any], message: Message, secrets: list[str], t: float) -> None:
    import smtplib
    import socket
    from email.message import EmailMessage

    to = config.get("to")
    recipients = [to] if isinstance(to, str) else [str(r) for r in to or []]
    if not recipients:
        raise SendFailed("no `to` address")
    user = setting(config, "smtp_user", secrets)
    password = setting(config, "smtp_password", secrets)
    security = str(config.get("security") or ("starttls" if password else "none")).lower()
    if security not in ("none", "starttls", "ssl"):
        raise SendFailed("`security` is none, starttls or ssl")
    if password and security == "none":
        raise SendFailed("a password is never sent without encryption (security: none)")
    host = str(config.get("smtp_host") or "localhost")
    port = int(config.get("smtp_port") or {"ssl": 465, "starttls": 587}.get(security, 25))
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = str(config.get("from") or f"mzt@{socket.gethostname()}")
    mail["To"] = ", ".join(recipients)
    mail.set_content(f"{message.text}\n\n{json.dumps(message.payload, indent=2)}\n")
    client = smtplib.SMTP_SSL if security == "ssl" else smtplib.SMTP
    with client(host, port, timeout=t) as smtp:
        if security == "starttls":
            smtp.starttls()
        if user and password:
            smtp.login(user, password)
        smtp.send_message(mail)


def desktop_command(config: Mapping[str, Any], message: Message) -> list[str] | None:
    """The notifier command for this machine, None where there is none (values are argv
    items, never script or shell text)."""
    app = str(config.get("app_name") or "mzt")
    if sys.platform == "darwin" and (osascript := shutil.which("osascript")):
        script = "on run argv\ndisplay notification (item 2 of argv) with title (item 1 of argv)"
        return [osascript, "-e", script + "\nend run", message.title, message.text]
    notify = shutil.which("notify-send")
    if notify and (os.environ.get("DBUS_SESSION_BUS_ADDRESS") or os.environ.get("DISPLAY")):
        return [notify, "--app-name", app, "--", message.title, message.text]
    return None


def _desktop(config: Mapping[str, Any], message: Message, secrets: list[str], t: float) -> None:
    argv = desktop_command(config, message)
    if argv is None:
        raise SendFailed("no desktop notifier here (notify-send with a session bus, osascript)")
    done = subprocess.run(argv, capture_output=True, timeout=t, check=False)
    if done.returncode:
        raise SendFailed(f"{Path(argv[0]).name} exited with {done.returncode}")


_SENDERS = {"webhook": _webhook, "slack": _slack, "email": _email, "desktop": _desktop}
