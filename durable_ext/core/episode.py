"""Run one orchestration episode through the SDK and turn what it returns into data.

``run_episode`` builds the orchestration-trigger JSON the Durable Functions host sends, calls the
injected orchestrator (the SDK's ``handle``), reads the ``OrchestratorState`` it returns (or the one
a failure carries) and lines the actions up with history (``core.shim``); the JSON on both sides
is :mod:`core.wire.orchestration`'s. It never raises: every failure of user code, of the
SDK or of determinism becomes an :class:`EpisodeOutcome` with ``failed`` set.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from durable_ext.core import events as e
from durable_ext.core.actions import ActionParseError
from durable_ext.core.played import PlayedHistory
from durable_ext.core.sessions import EpisodeSession, SessionOrchestrator
from durable_ext.core.shim import Aligner, Decision, ShimResult
from durable_ext.core.wire.orchestration import (
    OrchestratorState,
    context_dict,
    context_json,
    event_json,
    parse_actions,
    parse_orchestrator_state,
    split_failure,
)

#: ``orchestrator(context_json) -> state_json``; raises as the SDK's ``handle`` does.
Invoke = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class EpisodeOutcome:
    """What one episode decided.

    ``output`` and ``custom_status`` are JSON texts. When ``failed``, ``error`` is the failure
    message (as the SDK reported it) and ``details`` a stack trace or explanation.
    """

    decisions: list[Decision] = field(default_factory=list)
    is_done: bool = False
    output: str | None = None
    custom_status: str | None = None
    continue_as_new_input: str | None = None
    continued_as_new: bool = False
    failed: bool = False
    error: str = ""
    details: str = ""
    #: When the failure is non-determinism: the history event the replay could not line up.
    diverging_event: e.HistoryEvent | None = None
    #: The live state to continue from in the next episode (extended sessions), when asked for.
    session: EpisodeSession | None = field(default=None, compare=False, repr=False)
    #: True when this episode continued a session instead of replaying the whole history.
    resumed: bool = False


def build_context(
    past: list[e.HistoryEvent],
    new: list[e.HistoryEvent],
    *,
    instance_id: str,
    parent_instance_id: str | None,
    execution_input: str | None,
    played: PlayedHistory | None = None,
) -> str:
    """The orchestration-trigger JSON for one episode (past events are marked played).

    ``played`` keeps the JSON of the instance's played history for its next episode.
    """
    if played is not None:
        history = played.fragments(instance_id, past)
    else:
        history = [event_json(event, played=True) for event in past]
    history = [*history, *(event_json(event, played=False) for event in new)]
    return context_json(
        history,
        instance_id=instance_id,
        parent_instance_id=parent_instance_id,
        execution_input=execution_input,
        replaying=bool(past),
    )


def _invoke(call: Callable[[], Any]) -> tuple[OrchestratorState | None, Any, str, str]:
    """Call the orchestrator: (state, extra, error, details). State is None if there is none to use.

    ``call`` returns the state JSON, or (state JSON, extra) for a session start.
    """
    try:
        raw = call()
        extra = None
        if isinstance(raw, tuple):
            raw, extra = raw
        return parse_orchestrator_state(raw), extra, "", ""
    except Exception as exc:  # user code and SDK failures are data here
        message = str(exc)
        cause = exc.__cause__ or exc
        details = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
        text, state_json = split_failure(message)
        if state_json is None:
            return None, None, message or type(exc).__name__, details
        try:
            state = parse_orchestrator_state(state_json)
        except ValueError:
            return None, None, text, details
        return state, None, state.error or text, details


def run_episode(
    invoke: Invoke,
    past: list[e.HistoryEvent],
    new: list[e.HistoryEvent],
    *,
    instance_id: str,
    execution_id: str,
    parent_instance_id: str | None,
    execution_input: str | None,
    session: EpisodeSession | None = None,
    keep_session: bool = False,
    played: PlayedHistory | None = None,
) -> EpisodeOutcome:
    """Replay ``past + new`` through the orchestrator; never raises.

    ``played`` is the caller's cache of played-history JSON (see core.played): a full replay reuses
    what the instance's previous episode wrote and leaves this one's there. None: no cache.

    With ``session`` (taken from an extended-session cache) that :meth:`~EpisodeSession.continues`
    ``past``, only the events after what it consumed are fed to it; otherwise the history is
    replayed in full. With ``keep_session`` a full replay of a session-capable orchestrator
    starts a session; the outcome carries the session to continue from next time (None when the
    orchestration ended, failed, or cannot be continued).
    """
    aligner: Aligner
    if session is not None and session.continues(past, execution_id):
        delta = [*past[session.consumed :], *new]
        resumable = session.orchestrator
        aligner = session.aligner
        state, _, error, details = _invoke(lambda: resumable.resume(delta))
        replayed = delta
        resumed = True
    else:
        resumed = False
        replayed = past + new
        aligner = Aligner(execution_id)
        # (what isinstance(invoke, SessionOrchestrator) asks, without a runtime Protocol check's cost)
        start_session = getattr(invoke, "start_session", None) if keep_session else None
        if start_session is not None and not past:
            # A first episode: the parsed trigger, as the SDK would read it, without the text.
            fields = context_dict(
                new, instance_id=instance_id, parent_instance_id=parent_instance_id, execution_input=execution_input
            )
            starter = cast(SessionOrchestrator, invoke)
            state, resumable, error, details = _invoke(lambda: starter.start_session(fields))
        else:
            trigger = build_context(
                past,
                new,
                instance_id=instance_id,
                parent_instance_id=parent_instance_id,
                execution_input=execution_input,
                played=played,
            )
            if start_session is not None:
                starter = cast(SessionOrchestrator, invoke)
                state, resumable, error, details = _invoke(lambda: starter.start_session(trigger))
            else:
                state, resumable, error, details = _invoke(lambda: invoke(trigger))
    if state is None:
        return EpisodeOutcome(failed=True, error=error, details=details, resumed=resumed)
    custom_status = state.custom_status
    if error:
        return EpisodeOutcome(failed=True, error=error, details=details, custom_status=custom_status, resumed=resumed)
    try:
        action_list = parse_actions(state.actions, state.schema_version)
    except (ActionParseError, KeyError, TypeError) as exc:
        return EpisodeOutcome(failed=True, error=f"The orchestrator returned an invalid action: {exc}", resumed=resumed)
    try:
        aligned: ShimResult = aligner.step(action_list, replayed)
    except Exception as exc:  # an action the engine cannot carry out fails the instance, never pins it
        return EpisodeOutcome(
            failed=True,
            error=f"The orchestrator returned an action the host cannot carry out: {type(exc).__name__}: {exc}",
            details="".join(traceback.format_exception(exc)),
            custom_status=custom_status,
            resumed=resumed,
        )
    if aligned.non_determinism:
        return EpisodeOutcome(
            failed=True,
            error=aligned.non_determinism,
            details=aligned.non_determinism,
            diverging_event=aligned.diverging_event,
            resumed=resumed,
        )
    is_done = state.is_done
    can = aligned.continue_as_new
    next_session = None
    if resumable is not None and not is_done:
        next_session = EpisodeSession(execution_id, resumable, aligner, consumed=len(past) + len(new))
    return EpisodeOutcome(
        decisions=aligned.decisions,
        is_done=is_done,
        output=state.output if is_done else None,
        custom_status=custom_status,
        continued_as_new=is_done and can is not None,
        continue_as_new_input=can.input if can is not None else None,
        session=next_session,
        resumed=resumed,
    )
