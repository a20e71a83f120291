"""Drive ``process_work_item`` without storage: episodes in, history and work out.

The SDK's own orchestrator wrapper runs the user code, so these tests exercise the real replay
contract; only storage is replaced by lists.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df

from durable_ext.core import events as e
from durable_ext.core.kinds import DurableKind
from durable_ext.core.messages import InstanceState, OrchestrationWorkItem, TaskMessage
from durable_ext.core.played import PlayedHistory
from durable_ext.core.transitions import EpisodeReport, process_work_item

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


class Catalog:
    default_version = None

    def __init__(self, orchestrators: dict, activities=(), entities=()):
        self._orchestrators = {k.lower(): df.Orchestrator.create(v) for k, v in orchestrators.items()}
        self._names = dict(orchestrators)
        self._activities = {a.lower() for a in activities}
        self._entities = {x.lower() for x in entities}

    def orchestrator(self, name):
        return self._orchestrators.get(name.lower())

    def has_activity(self, name):
        return name.lower() in self._activities

    def has_entity(self, name):
        return name.lower() in self._entities

    def names(self, kind: DurableKind) -> list[str]:
        return {
            DurableKind.ORCHESTRATOR: list(self._names),
            DurableKind.ACTIVITY: sorted(self._activities),
            DurableKind.ENTITY: sorted(self._entities),
        }[kind]


@dataclass
class Instance:
    """One instance's stored state, updated by applying commits as a provider would."""

    instance_id: str
    catalog: Catalog
    state: InstanceState | None = None
    history: list[e.HistoryEvent] = field(default_factory=list)
    clock: datetime = T0
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    reports: list[EpisodeReport] = field(default_factory=list)
    #: The played-history JSON cache a dispatcher would own (core.played).
    played: PlayedHistory = field(default_factory=PlayedHistory)

    def tick(self, seconds: float = 1.0) -> datetime:
        self.clock += timedelta(seconds=seconds)
        return self.clock

    def start(self, name: str, input_text: str | None = None) -> EpisodeReport:
        started = e.ExecutionStarted(
            timestamp=self.clock, name=name, instance_id=self.instance_id, execution_id="exec1", input=input_text
        )
        return self.deliver(started)

    def deliver(self, *events: e.HistoryEvent) -> EpisodeReport:
        messages = [(str(i), TaskMessage(self.instance_id, ev)) for i, ev in enumerate(events)]
        item = OrchestrationWorkItem(self.instance_id, "lock", self.state, list(self.history), messages)
        report = process_work_item(
            item, now=self.tick(), catalog=self.catalog, new_id=lambda: f"id{next(self.ids)}", played=self.played
        )
        commit = report.commit
        if commit.state is not None:
            self.state = commit.state
        self.history = list(commit.new_history) if commit.replace_history else self.history + commit.new_history
        self.reports.append(report)
        return report

    def types(self) -> list[str]:
        return [ev.TYPE.name for ev in self.history]
