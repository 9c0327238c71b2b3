"""A notification channel that keeps what it was sent (for alert tests)."""

from __future__ import annotations

from wg_desktop.services.notifiers import DeliveryResult


class RecordingChannel:
    name = "recorder"
    target = "memory"

    def __init__(self) -> None:
        self.sent: list = []

    def send(self, notification) -> DeliveryResult:
        self.sent.append(notification)
        return DeliveryResult(self.name, self.target, True)
