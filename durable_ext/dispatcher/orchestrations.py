"""Orchestration episodes: lock an instance, run the pure episode in a worker thread, commit.

The episode (replaying history through the SDK) is CPU work in user code, so it runs on the
thread pool — except, with ``inline``, a quick episode when nothing else is in flight, which runs
on the loop's thread (``dispatcher.inline``); the commit is one provider call. The lock is renewed
while the episode runs (``dispatcher.locks``); an episode that outlives functionTimeout fails its
instance (``dispatcher.timeouts``). A commit rejected because the lock was lost
(another worker took the instance) is dropped: that worker's commit wins, exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from datetime import datetime, timedelta
from functools import partial
from typing import cast

from durable_ext import telemetry
from durable_ext.core.clock import Clock, new_id
from durable_ext.core.messages import (
    ActivityWorkItem,
    InstanceState,
    OrchestrationCommit,
    OrchestrationWorkItem,
    TaskMessage,
)
from durable_ext.core.played import PlayedHistory
from durable_ext.core.sessions import EpisodeSession
from durable_ext.core.status import RuntimeStatus
from durable_ext.core.transitions import Catalog, EpisodeReport, process_work_item
from durable_ext.dispatcher.handoff import Receiver
from durable_ext.dispatcher.inline import InlineCalls
from durable_ext.dispatcher.locks import hand_back, renewing
from durable_ext.dispatcher.loop import WorkLoop
from durable_ext.dispatcher.sessions import Committed, SessionCache
from durable_ext.dispatcher.timeouts import FunctionTimeouts
from durable_ext.errors import FunctionTimeoutError, HandOffDeclined, LockLostError, ProviderError
from durable_ext.functions.threads import run_in
from durable_ext.log import info_line, invocation, logger
from durable_ext.providers.base import HandsOffWork, Lease, Provider, WorkSignal

#: How long a new instance's creation waits for its first episode, to write both at once
#: (``OrchestrationDispatcher.take_new``); a first episode takes well under a millisecond.
FIRST_EPISODE_WAIT = 0.02


class OrchestrationDispatcher:
    def __init__(
        self,
        provider: Provider,
        catalog: Catalog,
        clock: Clock,
        executor: Executor,
        *,
        concurrency: int,
        worker_id: str,
        lock_timeout: timedelta = timedelta(minutes=2),
        entities: bool | None = False,
        name: str = WorkSignal.ORCHESTRATIONS,
        timeouts: FunctionTimeouts | None = None,
        on_commit: Callable[[str, InstanceState | None], None] | None = None,
        sessions: SessionCache | None = None,
        played: PlayedHistory | None = None,
        inline: InlineCalls | None = None,
    ) -> None:
        """``on_commit(instance_id, state)`` runs after each commit that ends an instance (the client
        hands ``state`` to the requests waiting for it).

        ``played`` caches the played-history JSON of this dispatcher's instances between episodes
        (core.played); default: a cache of its own with the default bound.

        ``inline`` decides which episodes run on the loop's thread (``dispatcher.inline``; its
        ``alongside`` loops include this one's); None: every episode runs on ``executor``.
        """
        self.provider = provider
        # (a runtime Protocol check walks the protocol's members: once, not per episode)
        self.hands_off: HandsOffWork | None = provider if isinstance(provider, HandsOffWork) else None
        self.catalog = catalog
        self.clock = clock
        self.executor = executor
        self.worker_id = worker_id
        self.lock_timeout = lock_timeout
        self.entities = entities
        self.timeouts = timeouts or FunctionTimeouts(None)
        self.on_commit = on_commit
        self.sessions = sessions  # extended sessions (dispatcher.sessions); None: replay in full
        self.played = played if played is not None else PlayedHistory()
        self.inline = inline  # which episodes may run on the loop's thread; None: none do
        #: Where scheduled activities go without a fetch (send_activities_to); None: the queue only.
        self.activities: Receiver[ActivityWorkItem] | None = None
        self.loop = WorkLoop(
            name,
            provider,
            clock,
            concurrency=concurrency,
            fetch=self._fetch,
            handle=self._handle,
            fetch_many=self._fetch_many if hasattr(provider, "lock_next_orchestrations") else None,
        )

    async def _fetch(self) -> OrchestrationWorkItem | None:
        return await self.provider.lock_next_orchestration(
            now=self.clock.now(), lock_timeout=self.lock_timeout, worker_id=self.worker_id, entities=self.entities
        )

    async def _fetch_many(self, limit: int) -> list[OrchestrationWorkItem]:
        # A provider that locks several instances in one call (SQLite) fills several free slots at once.
        return await self.provider.lock_next_orchestrations(  # type: ignore[attr-defined]
            now=self.clock.now(),
            lock_timeout=self.lock_timeout,
            worker_id=self.worker_id,
            entities=self.entities,
            limit=limit,
        )

    async def _handle(self, item: OrchestrationWorkItem) -> None:
        now = self.clock.now()
        await self._finish(item, self._episode(item, now), now)

    async def _finish(
        self, item: OrchestrationWorkItem, decided: Awaitable[tuple[EpisodeReport, str | None]], now: datetime
    ) -> None:
        """Wait for the episode of locked ``item`` (renewing the lock meanwhile) and commit it."""
        async with renewing(lambda: self._renew(item), self.lock_timeout, f"Instance '{item.instance_id}'"):
            report, timed_out = await decided
        await self._commit(item, report, now)
        if timed_out:
            self.timeouts.runaway(timed_out)

    async def _episode(self, item: OrchestrationWorkItem, now: datetime) -> tuple[EpisodeReport, str | None]:
        # Taken out for the episode; back only once its commit succeeded (dispatcher.sessions).
        session = self.sessions.take(item.instance_id) if self.sessions is not None else None
        return await self._decide(item, now, session)

    async def _decide(
        self, item: OrchestrationWorkItem, now: datetime, session: EpisodeSession | None
    ) -> tuple[EpisodeReport, str | None]:
        """Decide the episode; with it, the function name if it outlived functionTimeout."""
        name = _name_of(item)
        timed_out = None
        if name:
            with invocation(name, reason="(null)", instance_id=item.instance_id) as inv:
                inline = self._inline_for(name, item, session)
                if inline is not None:
                    report = inline.run(name, item.instance_id, partial(self._process, item, now, session))
                else:
                    try:
                        report = await self.timeouts.run(name, inv.id, self._on_thread(name, item, now, session))
                    except FunctionTimeoutError as exc:
                        # Decided here, not on the pool: its threads may all be busy with runaways. The
                        # session stays with the runaway thread; this decision replays nothing.
                        report = self._process(item, now, fail_with=str(exc))
                        timed_out = name
                inv.succeeded = not (report.outcome and report.outcome.failed) and not timed_out
        else:
            report = await run_in(self.executor, self._process, item, now, session)
        _log_report(item, report)
        return report, timed_out

    def _inline_for(self, name: str, item: OrchestrationWorkItem, session: EpisodeSession | None) -> InlineCalls | None:
        """``self.inline`` if the episode runs on the loop's thread (``dispatcher.inline``): nothing
        else is in flight, the episode replays little and its function has been quick; else None."""
        inline = self.inline
        if inline is not None and inline.allows(name) and (session is not None or not item.history) and inline.quiet():
            return inline
        return None

    def _on_thread(
        self, name: str, item: OrchestrationWorkItem, now: datetime, session: EpisodeSession | None
    ) -> Awaitable[EpisodeReport]:
        if self.inline is None:
            return run_in(self.executor, self._process, item, now, session)
        return run_in(self.executor, self.inline.timed, name, partial(self._process, item, now, session))

    def receiver(self) -> Receiver[OrchestrationWorkItem]:
        """Where another dispatcher sends the instances its commits lock for this one (dispatcher.handoff)."""
        return Receiver(self.loop, self.worker_id, self.lock_timeout)

    def send_activities_to(self, receiver: Receiver[ActivityWorkItem]) -> None:
        """Lock the activities an episode schedules for ``receiver`` in the episode's commit, when
        it has room and the provider can (``HandsOffWork``)."""
        if self.hands_off is not None:
            self.activities = receiver

    async def _commit(self, item: OrchestrationWorkItem, report: EpisodeReport, now: datetime) -> None:
        commit = report.commit
        lease = self.activities.lease(len(commit.activities)) if self.activities and commit.activities else None
        handed: list[ActivityWorkItem] = []
        try:
            handed = await self._checkpoint(item, report, now, lease)
        finally:
            if lease is not None:
                self.activities.accept(handed, lease)  # type: ignore[union-attr]

    async def _checkpoint(
        self, item: OrchestrationWorkItem, report: EpisodeReport, now: datetime, lease: Lease | None
    ) -> list[ActivityWorkItem]:
        """Commit the episode; the activity tasks it locked for this process under ``lease``."""
        name = _name_of(item)
        tracing = telemetry.ACTIVE
        traced = tracing.episode(item, report, self.provider.hub, now) if tracing is not None else None
        handed: list[ActivityWorkItem] = []
        try:
            if lease is not None:
                # (send_activities_to made sure it can)
                handed = await cast(HandsOffWork, self.hands_off).complete_orchestration_leasing(
                    item, report.commit, now=self.clock.now(), lease=lease
                )
            else:
                await self.provider.complete_orchestration(item, report.commit, now=self.clock.now())
        except LockLostError:
            logger.warning(
                "Instance '%s': lock lost before commit; another worker owns it now", item.instance_id,
                extra={"instance_id": item.instance_id, "function_name": name},
            )  # fmt: skip
            return []
        except ProviderError as exc:
            await hand_back(lambda: self.provider.abandon_orchestration(item), f"Instance '{item.instance_id}'", exc)
            return []
        self._committed(item, report, traced)
        return handed

    def _committed(self, item: OrchestrationWorkItem, report: EpisodeReport, traced) -> None:
        """What follows a successful commit of ``report``'s episode of ``item``."""
        if traced is not None:
            traced.emit(self.clock.now())
        finished = report.status is not None and report.status.is_terminal
        if finished and self.on_commit is not None:
            self.on_commit(item.instance_id, report.commit.state)
        if report.session is not None and self.sessions is not None:
            commit = report.commit
            history = commit.new_history if commit.replace_history else item.history + commit.new_history
            state = commit.state or item.state
            self.sessions.put(item.instance_id, report.session, Committed(state, history) if state else None)
        if finished:
            self.played.forget(item.instance_id)  # a finished instance keeps nothing in memory
            self.provider.work_signal.changed(item.instance_id)  # (waiters for completion)

    async def continue_inline(self, task: ActivityWorkItem, response: TaskMessage) -> bool:
        """Run the episode an activity's result wakes and commit both at once: True if done.

        The instance must be one this process committed last, with its session kept
        (``SessionCache.take_continuation``): the episode runs from that state and history with the
        result as its only message — no message queued, no lock taken, nothing read — and
        ``HandsOffWork.complete_activity_with_episode`` commits it if the hub still holds exactly
        that instance. False, with nothing written, when that is not so (the caller then commits
        the result the usual way; the session, advanced by an episode that never committed, is
        dropped and the next episode replays in full). Raises ``LockLostError`` if the activity's
        lock was lost, ``ProviderError`` if the commit failed.
        """
        if self.hands_off is None or self.sessions is None:
            return False
        continuation = self.sessions.take_continuation(response.instance_id)
        if continuation is None:
            return False
        session, committed = continuation
        if committed.state.execution_id != response.execution_id or not self.loop.reserve(1):
            self.sessions.put(response.instance_id, session, committed)
            return False
        item = OrchestrationWorkItem(response.instance_id, "", committed.state, committed.history, [("", response)])
        provider = self.hands_off

        async def commit(episode: OrchestrationCommit, lease: Lease | None) -> list[ActivityWorkItem]:
            return await provider.complete_activity_with_episode(
                task, response, item, episode, now=self.clock.now(), lease=lease
            )

        now = self.clock.now()
        return await self._run_inline(item, self._decide(item, now, session), now, commit)

    async def take_new(self, start: TaskMessage, now: datetime) -> bool:
        """Create ``start``'s instance for this dispatcher and run its first episode here: True if
        created. False, with nothing written, when the loop has no free slot or the provider
        cannot (``HandsOffWork``): the caller then creates it the usual way. Raises
        ``InstanceExistsError`` as ``create_instance`` does.

        The episode is decided first, on the instance as it is about to be created
        (``first_episode_item``). Decided within ``FIRST_EPISODE_WAIT`` — as a first episode
        nearly always is — it is written with the creation in one transaction
        (``create_instance_with_episode``): one commit fewer per orchestration. Otherwise the
        caller's request does not wait for user code taking its time: the instance is created
        locked for this process and the episode commits when it is decided.
        """
        provider = self.hands_off
        if provider is None or not self.loop.reserve(1):
            return False
        item = provider.first_episode_item(start, now=now)

        async def commit(episode: OrchestrationCommit, lease: Lease | None) -> list[ActivityWorkItem]:
            return await provider.create_instance_with_episode(
                start, item, episode, now=self.clock.now(), worker_id=self.worker_id, lease=lease
            )

        name = _name_of(item)
        if name and self._inline_for(name, item, None) is not None:
            # It runs on the loop's thread, here and now (dispatcher.inline): no task to wait for.
            return await self._run_inline(item, self._decide(item, now, None), now, commit)
        decided = asyncio.ensure_future(self._decide(item, now, None))
        try:
            await asyncio.wait((decided,), timeout=FIRST_EPISODE_WAIT)  # (left running at the timeout)
        except BaseException:
            self.loop.accept([], 1)
            _discard(decided)
            raise
        if decided.done():
            return await self._run_inline(item, decided, now, commit)
        try:
            locked = await provider.create_instance_locking(
                start, now=now, lease=Lease(self.worker_id, self.lock_timeout, 1)
            )
        except BaseException:
            self.loop.accept([], 1)
            _discard(decided)
            raise
        # Only the start was decided on: messages sent to the id before it existed stay queued
        # (the commit sees them and wakes the loop for the next episode).
        locked.messages = [(seq, m) for seq, m in locked.messages if _same_start(m, start)]
        self.loop.run_reserved(self._finish(locked, decided, now))
        return True

    async def _run_inline(
        self,
        item: OrchestrationWorkItem,
        decided: Awaitable[tuple[EpisodeReport, str | None]],
        now: datetime,
        commit: Callable[[OrchestrationCommit, Lease | None], Awaitable[list[ActivityWorkItem]]],
    ) -> bool:
        """Await ``item``'s episode, decided in the orchestration slot its caller reserved, commit
        it with ``commit`` (False if the provider declined: ``HandOffDeclined``) and free the slot."""
        try:
            report, timed_out = await decided
            tracing = telemetry.ACTIVE
            traced = tracing.episode(item, report, self.provider.hub, now) if tracing is not None else None
            episode = report.commit
            lease = self.activities.lease(len(episode.activities)) if self.activities and episode.activities else None
            handed: list[ActivityWorkItem] = []
            try:
                handed = await commit(episode, lease)
            except HandOffDeclined:
                return False
            finally:
                if lease is not None:
                    self.activities.accept(handed, lease)  # type: ignore[union-attr]
            self._committed(item, report, traced)
            if timed_out:
                self.timeouts.runaway(timed_out)
            return True
        finally:
            self.loop.accept([], 1)

    async def _renew(self, item: OrchestrationWorkItem) -> None:
        await self.provider.renew_orchestration_lock(item, now=self.clock.now(), lock_timeout=self.lock_timeout)

    def _process(self, item: OrchestrationWorkItem, now, session=None, fail_with: str | None = None) -> EpisodeReport:
        return process_work_item(
            item,
            now=now,
            catalog=self.catalog,
            new_id=new_id,
            session=session,
            keep_session=self.sessions is not None and fail_with is None,
            fail_with=fail_with,
            played=self.played,
        )


def _same_start(message: TaskMessage, start: TaskMessage) -> bool:
    event, started = message.event, start.event
    return event.TYPE == started.TYPE and message.execution_id == start.execution_id


def _discard(decided: asyncio.Future) -> None:
    """Drop an episode decided for nothing (its instance was not created): its outcome is not
    wanted, and its session is never kept (only a commit keeps one)."""
    decided.add_done_callback(lambda f: f.cancelled() or f.exception())


def _name_of(item: OrchestrationWorkItem) -> str | None:
    """The orchestrator function ``item``'s episode runs (None for an instance that does not exist)."""
    return item.state.name if item.state else _start_name(item)


def _start_name(item: OrchestrationWorkItem) -> str | None:
    for _, message in item.messages:
        name = getattr(message.event, "name", None)
        if message.event.TYPE == 0 and name:
            return name
    return None


def _log_report(item: OrchestrationWorkItem, report: EpisodeReport) -> None:
    status = report.status
    finished_now = bool(report.commit.new_history)  # not an episode that only dropped stale messages
    if finished_now and status in (RuntimeStatus.Completed, RuntimeStatus.Failed, RuntimeStatus.Terminated):
        state = report.commit.state
        detail = f" Output: {_clip(state.output)}" if state and state.output else ""
        name = state.name if state else ""
        info_line(
            "Orchestration '%s' (%s) %s.%s",
            (item.instance_id, name, status.value, detail),
            {"instance_id": item.instance_id, "function_name": name},
        )
    for note in report.notes:
        logger.debug("Instance '%s': %s", item.instance_id, note)


def _clip(text: str | None, limit: int = 300) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit] + "…"
