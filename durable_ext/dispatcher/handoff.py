"""Follow-up work handed from one dispatcher of this process to another, without a fetch.

An orchestration episode that schedules activities, or an activity whose result wakes its
orchestration, creates the next work item in its own commit. With a provider that
:class:`~durable_ext.providers.base.HandsOffWork`, that commit also locks the new work for this
process — up to the receiving loop's free slots — and the receiving dispatcher runs it at once:
no queue poll, no fetch transaction, no wake-up per step of a chain. Work the receiver has no
room for is queued as usual and fetched by whichever process gets to it first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

from durable_ext.dispatcher.loop import WorkLoop
from durable_ext.providers.base import Lease

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Receiver(Generic[T]):
    """A dispatcher's loop as the destination of handed-over work, locked as its own fetch locks."""

    loop: WorkLoop[T]
    worker_id: str
    lock_timeout: timedelta

    def lease(self, wanted: int) -> Lease | None:
        """Reserve up to ``wanted`` free slots; the lease to commit with, or None if there is no room."""
        taken = self.loop.reserve(wanted)
        return Lease(self.worker_id, self.lock_timeout, taken) if taken else None

    def accept(self, items: list[T], lease: Lease) -> None:
        """Run what the commit locked under ``lease`` (nothing if it failed); frees unused slots."""
        self.loop.accept(items, lease.limit)
