"""A listener that keeps everything it is told, for the tests."""

from __future__ import annotations

from typing import Any

from django_redis_patterns.client.instrument import CommandEvent, Listener, Operation, PatternEvent


class Recorder(Listener):
    def __init__(self) -> None:
        self.commands: list[CommandEvent] = []
        self.events: list[PatternEvent] = []
        self.operations: list[Operation] = []

    def command(self, event: CommandEvent) -> None:
        self.commands.append(event)

    def event(self, event: PatternEvent) -> None:
        self.events.append(event)

    def operation_ended(self, op: Operation, token: Any, error: BaseException | None) -> None:
        self.operations.append(op)

    def names(self) -> list[str]:
        return [c.command for c in self.commands]

    def of(self, pattern: str, name: str | None = None) -> list[PatternEvent]:
        return [e for e in self.events if e.pattern == pattern and (name is None or e.name == name)]
