"""Messages about a run's events: `notifying` turns progress events into notifications
and sends them off the run loop; `channels` speaks each channel (webhook, Slack, e-mail,
desktop)."""
