"""Line the SDK's action list up with history: sequence ids, new work, non-determinism.

The SDK returns the cumulative list of actions its generator has yielded, but not the sequence
ids it gave them. This module recovers them the way the Durable Functions host does
(EXT ``Listener/OutOfProcOrchestrationShim.cs``): it walks the action list as a little orchestration of its
own, "invoking" each action (which allocates ids, depth first) and waiting for it before
walking on, while the history events are replayed in order and settle the tasks. Retries
allocate their timer and re-attempt ids while events are replayed, interleaved with new
actions, exactly as the SDK's ``RetryAbleTask`` does.

Each scheduling event in history (TaskScheduled, TimerCreated, SubOrchestrationInstanceCreated,
EventSent) must match a task the replay allocated with the same id, kind and name; otherwise
the orchestration is non-deterministic (DTFx's message is kept). Allocated tasks that history
has not recorded yet are the episode's new work, returned as :class:`Decision` records.

Pure: no I/O, no clock (the episode's time comes from the OrchestratorStarted events).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from durable_ext.core import actions as a
from durable_ext.core import events as e
from durable_ext.core.wire.activities import http_request_input
from durable_ext.core.wire.entities import entity_request_id, is_entity_error_response
from durable_ext.core.wire.history import parse_datetime

HTTP_ACTIVITY_NAME = "BuiltIn::HttpActivity"


class TaskKind(Enum):
    """What a sequence id was used for; the value is DTFx's wording in non-determinism errors."""

    ACTIVITY = "an activity task"
    TIMER = "a timer"
    SUB_ORCHESTRATION = "a sub-orchestration"
    ENTITY = "an entity operation"


# Which history event records which kind of task.
_RECORDED_BY = {
    e.EventType.TaskScheduled: TaskKind.ACTIVITY,
    e.EventType.TimerCreated: TaskKind.TIMER,
    e.EventType.SubOrchestrationInstanceCreated: TaskKind.SUB_ORCHESTRATION,
    e.EventType.EventSent: TaskKind.ENTITY,
}


@dataclass(frozen=True, slots=True)
class Decision:
    """New work one episode asks for; ``task_id`` is the SDK's sequence id."""

    task_id: int
    kind: TaskKind
    name: str = ""
    input: str | None = None
    fire_at: datetime | None = None
    instance_id: str | None = None
    version: str | None = None
    is_signal: bool = False


@dataclass(frozen=True, slots=True)
class ShimResult:
    decisions: list[Decision]
    non_determinism: str | None = None
    continue_as_new: a.ContinueAsNew | None = None
    #: With ``non_determinism``: the history event the replay could not line up.
    diverging_event: e.HistoryEvent | None = None


class _Node:
    """A task in the walk: settles once, then tells its parent."""

    __slots__ = ("done", "failed", "parent")

    def __init__(self) -> None:
        self.parent: _Node | None = None
        self.done = False
        self.failed = False

    def settle(self, shim: _Shim, failed: bool) -> None:
        if self.done:
            return
        self.done, self.failed = True, failed
        if self.parent is not None:
            self.parent.child_settled(shim, self)
        shim.maybe_advance(self)

    def child_settled(self, shim: _Shim, child: _Node) -> None:  # pragma: no cover - leaves have no children
        raise NotImplementedError


class _Leaf(_Node):
    __slots__ = ("decision", "recorded")

    def __init__(self, decision: Decision) -> None:
        super().__init__()
        self.decision = decision
        self.recorded = False


class _EventWait(_Node):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class _Compound(_Node):
    """WhenAll fails on the first failed child and succeeds when all succeed; WhenAny settles on
    the first child that settles (SDK ``WhenAllTask`` / ``WhenAnyTask``)."""

    __slots__ = ("any", "pending")

    def __init__(self, children: list[_Node], any_: bool) -> None:
        super().__init__()
        self.any = any_
        self.pending = len(children)

    def child_settled(self, shim: _Shim, child: _Node) -> None:
        self.pending -= 1
        if self.any or child.failed:
            self.settle(shim, failed=child.failed and not self.any)
        elif self.pending == 0:
            self.settle(shim, failed=False)


class _Retry(_Node):
    """SDK ``RetryAbleTask``: on each failure a timer; when it fires, another attempt — and after
    the last failure one more timer, whose firing fails the task."""

    __slots__ = ("action", "attempts", "options", "waiting_on_timer")

    def __init__(self, action: a.CallActivity | a.CallSubOrchestrator, options: a.RetryOptions) -> None:
        super().__init__()
        self.action, self.options = action, options
        self.attempts = 1
        self.waiting_on_timer = False

    def child_settled(self, shim: _Shim, child: _Node) -> None:
        if self.done:
            return
        if self.waiting_on_timer:
            self.waiting_on_timer = False
            if self.attempts >= self.options.max_attempts:
                self.settle(shim, failed=True)
            else:
                self.attempts += 1
                shim.attach(self, shim.leaf_for(self.action))
            return
        if not child.failed:
            self.settle(shim, failed=False)
            return
        last = self.attempts >= self.options.max_attempts
        # DTFx fires the timer after the last failure at once ("dummy timer for back-compat").
        delay = timedelta(0) if last else timedelta(milliseconds=self.options.first_retry_interval_ms)
        self.waiting_on_timer = True
        assert shim.now is not None  # a failure event was replayed, so an OrchestratorStarted was too
        shim.attach(self, shim.new_leaf(TaskKind.TIMER, fire_at=shim.now + delay))


class _Shim:
    def __init__(self, action_list: list[a.Action], execution_id: str) -> None:
        self.actions = action_list
        self.execution_id = execution_id
        self.cursor = 0
        self.blocked: _Node | None = None
        self.next_id = 0
        self.now: datetime | None = None
        self.leaves: dict[int, _Leaf] = {}
        # Leaves history has not recorded yet (this episode's new work): kept apart so an episode
        # costs O(its own work), not O(every task the orchestration ever made).
        self.unrecorded: dict[int, _Leaf] = {}
        self.entity_requests: dict[str, _Leaf] = {}
        self.waiters: dict[str, list[_EventWait]] = {}
        self.buffered_events: set[str] = set()
        self.continue_as_new: a.ContinueAsNew | None = None
        self.started = False

    # -- allocation ----------------------------------------------------------------------------

    def allocate(self) -> int:
        task_id = self.next_id
        self.next_id += 1
        return task_id

    def new_leaf(self, kind: TaskKind, **fields: Any) -> _Leaf:
        leaf = _Leaf(Decision(task_id=self.allocate(), kind=kind, **fields))
        self.leaves[leaf.decision.task_id] = self.unrecorded[leaf.decision.task_id] = leaf
        return leaf

    def attach(self, parent: _Node, child: _Node) -> None:
        child.parent = parent

    def leaf_for(self, action: a.Action) -> _Leaf:
        match action:
            case a.CallActivity(name=name, input=input_):
                return self.new_leaf(TaskKind.ACTIVITY, name=name, input=input_)
            case a.CallHttp(request=request):
                return self.new_leaf(TaskKind.ACTIVITY, name=HTTP_ACTIVITY_NAME, input=http_request_input(request))
            case a.CallSubOrchestrator(name=name, input=input_, instance_id=iid, version=version):
                task_id = self.allocate()
                # DTFx names an unnamed child "<parent execution id>:<task id>".
                decision = Decision(
                    task_id=task_id,
                    kind=TaskKind.SUB_ORCHESTRATION,
                    name=name,
                    input=input_,
                    instance_id=iid or f"{self.execution_id}:{task_id}",
                    version=version,
                )
                leaf = _Leaf(decision)
                self.leaves[task_id] = self.unrecorded[task_id] = leaf
                return leaf
            case a.CreateTimer(fire_at=fire_at):
                return self.new_leaf(TaskKind.TIMER, fire_at=parse_datetime(fire_at))
            case a.CallEntity(instance_id=iid, operation=op, input=input_):
                return self.new_leaf(TaskKind.ENTITY, name=op, instance_id=iid, input=input_)
        raise a.ActionParseError(f"not an atomic action: {action!r}")

    def invoke(self, action: a.Action) -> _Node:
        """Create the task for an action, allocating its ids depth first (SDK rule 1)."""
        match action:
            case a.WhenAll(children=children) | a.WhenAny(children=children):
                nodes = [self.invoke(c) for c in children]
                node = _Compound(nodes, any_=isinstance(action, a.WhenAny))
                for child in nodes:
                    child.parent = node
                if not nodes:
                    node.done = True
                for child in nodes:
                    if child.done and not node.done:
                        node.child_settled(self, child)
                return node
            case a.WaitForExternalEvent(name=name):
                wait = _EventWait(name)
                if name in self.buffered_events:
                    # SDK quirk kept on purpose: a buffered event resolves every later wait.
                    wait.done = True
                else:
                    self.waiters.setdefault(name, []).append(wait)
                return wait
            case a.CallActivity(retry=retry) | a.CallSubOrchestrator(retry=retry) if retry is not None:
                retrying = _Retry(action, retry)
                self.attach(retrying, self.leaf_for(action))
                return retrying
        return self.leaf_for(action)

    # -- walking the action list ---------------------------------------------------------------

    def advance(self, force: bool = False) -> None:
        """Invoke actions until one must be waited for (or, forced, past a blocked one)."""
        if force:
            self.blocked = None
        while self.blocked is None and self.cursor < len(self.actions):
            action = self.actions[self.cursor]
            self.cursor += 1
            match action:
                case a.SignalEntity(instance_id=iid, operation=op, input=input_):
                    # Fire and forget: an id at call time (SDK rule 3), nothing to wait for.
                    self.new_leaf(TaskKind.ENTITY, name=op, instance_id=iid, input=input_, is_signal=True)
                case a.ContinueAsNew():
                    self.allocate()
                    self.continue_as_new = action
                case _:
                    node = self.invoke(action)
                    if not node.done:
                        self.blocked = node

    def maybe_advance(self, node: _Node) -> None:
        if node is self.blocked:
            self.blocked = None
            self.advance()

    # -- replaying history ---------------------------------------------------------------------

    def replay(self, history: list[e.HistoryEvent]) -> tuple[str, e.HistoryEvent] | None:
        """Process every event; return a non-determinism message and its event, or None."""
        for event in history:
            handler = _HANDLERS.get(event.TYPE)
            if handler is not None:
                error = handler(self, event)
                if error:
                    return error, event
        return None

    def on_orchestrator_started(self, event: e.OrchestratorStarted) -> None:
        if self.now is None or event.timestamp > self.now:
            self.now = event.timestamp

    def on_execution_started(self, event: e.ExecutionStarted) -> None:
        if not self.started:
            self.started = True
            self.advance()

    def on_scheduled(self, event: e.HistoryEvent) -> str | None:
        kind = _RECORDED_BY[event.TYPE]
        leaf = self.leaves.get(event.event_id)
        if leaf is None and self.blocked is not None and self.cursor < len(self.actions):
            # The SDK walked past a task that was already complete when yielded; so do we.
            self.advance(force=True)
            leaf = self.leaves.get(event.event_id)
        recorded_name = getattr(event, "name", "") or ""
        if leaf is None or leaf.recorded:
            return _non_determinism(event.event_id, kind, recorded_name, None)
        d = leaf.decision
        if d.kind is not kind or (kind is not TaskKind.TIMER and d.name.lower() != recorded_name.lower()):
            return _non_determinism(event.event_id, kind, recorded_name, d)
        leaf.recorded = True
        del self.unrecorded[event.event_id]
        if isinstance(event, e.EventSent) and not d.is_signal:
            request_id = entity_request_id(event.input)
            if request_id:
                self.entity_requests[request_id] = leaf
        return None

    def on_result(self, event: _Result) -> None:
        task_id = event.timer_id if isinstance(event, e.TimerFired) else event.task_scheduled_id
        leaf = self.leaves.get(task_id)
        if leaf is not None and leaf.recorded:
            leaf.settle(self, failed=isinstance(event, e.TaskFailed | e.SubOrchestrationInstanceFailed))

    def on_event_raised(self, event: e.EventRaised) -> None:
        leaf = self.entity_requests.pop(event.name, None)
        if leaf is not None:
            leaf.settle(self, failed=is_entity_error_response(event.input))
            return
        waiting = self.waiters.get(event.name)
        if waiting:
            waiting.pop().settle(self, failed=False)  # LIFO, as the SDK pops the last waiter
        else:
            self.buffered_events.add(event.name)

    def result(self) -> ShimResult:
        # Actions after a blocked one were yielded by the SDK, so their task completed there.
        while self.blocked is not None and self.cursor < len(self.actions):
            self.advance(force=True)
        new = [self.unrecorded[tid].decision for tid in sorted(self.unrecorded)]
        return ShimResult(decisions=new, continue_as_new=self.continue_as_new)

    def extend(self, actions: list[a.Action]) -> None:
        """Actions the orchestrator yielded after those already walked (an extended session)."""
        self.actions.extend(actions)
        if self.started and self.blocked is None:
            self.advance()


def _non_determinism(task_id: int, kind: TaskKind, name: str, found: Decision | None) -> str:
    what = f"{kind.value} with sequence number {task_id}" + (f" named '{name}'" if name else "")
    if found is None:
        now = "the current orchestration replay did not schedule it"
    else:
        now = f"the current orchestration replay instead scheduled {found.kind.value}" + (
            f" named '{found.name}'" if found.name else ""
        )
        now += " with this sequence number"
    return (
        f"Non-Deterministic workflow detected: A previous execution of this orchestration scheduled {what}, "
        f"but {now}. Was a change made to the orchestrator code after this instance had already started running?"
    )


_Result = (
    e.TaskCompleted
    | e.TaskFailed
    | e.SubOrchestrationInstanceCompleted
    | e.SubOrchestrationInstanceFailed
    | e.TimerFired
)

# Handlers take the event type they are registered for; the table is keyed by that type.
_HANDLERS: dict[e.EventType, Callable[[_Shim, Any], str | None]] = {
    e.EventType.OrchestratorStarted: _Shim.on_orchestrator_started,
    e.EventType.ExecutionStarted: _Shim.on_execution_started,
    e.EventType.TaskScheduled: _Shim.on_scheduled,
    e.EventType.TimerCreated: _Shim.on_scheduled,
    e.EventType.SubOrchestrationInstanceCreated: _Shim.on_scheduled,
    e.EventType.EventSent: _Shim.on_scheduled,
    e.EventType.TaskCompleted: _Shim.on_result,
    e.EventType.TaskFailed: _Shim.on_result,
    e.EventType.SubOrchestrationInstanceCompleted: _Shim.on_result,
    e.EventType.SubOrchestrationInstanceFailed: _Shim.on_result,
    e.EventType.TimerFired: _Shim.on_result,
    e.EventType.EventRaised: _Shim.on_event_raised,
}


def align(action_list: list[a.Action], history: list[e.HistoryEvent], execution_id: str) -> ShimResult:
    """Replay ``history`` against the SDK's ``action_list``: new decisions or non-determinism."""
    return Aligner(execution_id).step(action_list, history)


class Aligner:
    """:func:`align` kept open between episodes, for an orchestrator whose state stays in memory.

    ``step(actions, events)`` with the actions the orchestrator added since the last step and the
    history events appended since then gives what ``align(all actions, all history)`` gives, in
    time proportional to what is new. After a step that found non-determinism (or raised) the
    aligner is spent: its owner must start again from a full replay.
    """

    __slots__ = ("_shim", "spent")

    def __init__(self, execution_id: str) -> None:
        self._shim = _Shim([], execution_id)
        self.spent = False

    def step(self, actions: list[a.Action], events: list[e.HistoryEvent]) -> ShimResult:
        if self.spent:
            raise RuntimeError("this Aligner found non-determinism; replay in full instead")
        self.spent = True  # until the step completes
        self._shim.extend(actions)
        diverged = self._shim.replay(events)
        if diverged:
            return ShimResult(decisions=[], non_determinism=diverged[0], diverging_event=diverged[1])
        result = self._shim.result()
        self.spent = False
        return result
