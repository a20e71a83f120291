"""Resource names, partition routing and key escaping of an Azure Storage task hub.

Everything here is copied from DurableTask.AzureStorage (``AzureStorageOrchestrationServiceSettings.cs``,
``Partitioning/*LeaseManager.cs``, ``MessageManager.cs``) so that tools
reading a DTFx hub (Storage Explorer, Durable Functions Monitor) understand ours:

* tables ``{Hub}Instances`` / ``{Hub}History`` keep the hub's case; queues and containers use the
  lower-cased hub (``{hub}-control-00``, ``{hub}-workitems``, ``{hub}-leases``, ``{hub}-largemessages``);
* an instance lives in control queue ``fnv1a32(instance_id) % partition_count`` (raw id, UTF-8);
* table PartitionKeys and history blob names use the *escaped* id (DTFx ``KeySanitation``);
* history RowKeys are the event's 0-based position as 16 upper-case hex digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_HUB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,44}")
SENTINEL_ROW_KEY = "sentinel"
MAX_PARTITIONS = 16

# KeySanitation: '^' escapes; these four are illegal in table keys.
_ESCAPES = {"^": "^^", "/": "^0", "\\": "^1", "#": "^2", "?": "^3"}
_UNESCAPES = {"^": "^", "0": "/", "1": "\\", "2": "#", "3": "?"}
_CONTROL_OFFSET = 0xC0  # 'À': control characters are written as '^' + chr(0xC0 + c)


def fnv1a32(value: str) -> int:
    """32-bit FNV-1a over the UTF-8 bytes of ``value`` (DTFx ``Fnv1aHashHelper``).

    .NET encodes lone surrogates as U+FFFD; ``surrogatepass`` would differ, so replace them the
    same way .NET does instead of raising.
    """
    digest = _FNV_OFFSET
    for byte in value.encode("utf-8", errors="replace"):
        digest = ((digest ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return digest


def partition_of(instance_id: str, partition_count: int) -> int:
    """The control-queue index of an instance (no stored map: changing the count needs a new hub)."""
    return fnv1a32(instance_id) % partition_count


def _is_control(code: int) -> bool:
    return code <= 0x1F or 0x7F <= code <= 0x9F


def escape_key(instance_id: str) -> str:
    """DTFx ``KeySanitation.EscapePartitionKey``: a table-safe PartitionKey for an instance id."""
    out = []
    for ch in instance_id:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _is_control(ord(ch)):
            out.append("^" + chr(_CONTROL_OFFSET + ord(ch)))
        else:
            out.append(ch)
    return "".join(out)


def unescape_key(key: str) -> str:
    """Inverse of :func:`escape_key`; a dangling or unknown escape is kept as written."""
    out = []
    i = 0
    while i < len(key):
        ch = key[i]
        if ch == "^" and i + 1 < len(key):
            nxt = key[i + 1]
            if nxt in _UNESCAPES:
                out.append(_UNESCAPES[nxt])
                i += 2
                continue
            if ord(nxt) >= _CONTROL_OFFSET and _is_control(ord(nxt) - _CONTROL_OFFSET):
                out.append(chr(ord(nxt) - _CONTROL_OFFSET))
                i += 2
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def row_key(sequence_number: int) -> str:
    """History RowKey: ``sequenceNumber.ToString("X16")``; sorts chronologically, before "sentinel"."""
    return f"{sequence_number:016X}"


def validate_hub_name(hub: str) -> None:
    """Letters and digits, starting with a letter, 3–45 long: DTFx's rule, with the
    45-character bound that keeps ``{hub}-largemessages`` within the 63-character container limit."""
    if not _HUB_NAME.fullmatch(hub):
        raise ValueError(
            f"Task hub name {hub!r} is invalid for Azure Storage: it should contain only alphanumeric "
            "characters, start with a letter, and have length between 3 and 45."
        )


@dataclass(frozen=True, slots=True)
class HubNames:
    """Every table, queue and container name of one hub."""

    hub: str
    partition_count: int

    def __post_init__(self) -> None:
        validate_hub_name(self.hub)
        if not 1 <= self.partition_count <= MAX_PARTITIONS:
            raise ValueError(
                f"The number of partitions must be a positive integer and no greater than {MAX_PARTITIONS}, "
                f"got {self.partition_count}."
            )

    @property
    def lower(self) -> str:
        return self.hub.lower()

    @property
    def instances_table(self) -> str:
        return f"{self.hub}Instances"

    @property
    def history_table(self) -> str:
        return f"{self.hub}History"

    def control_queue(self, partition: int) -> str:
        return f"{self.lower}-control-{partition:02d}"

    @property
    def control_queues(self) -> list[str]:
        return [self.control_queue(p) for p in range(self.partition_count)]

    @property
    def workitem_queue(self) -> str:
        return f"{self.lower}-workitems"

    @property
    def leases_container(self) -> str:
        return f"{self.lower}-leases"

    @property
    def large_messages_container(self) -> str:
        return f"{self.lower}-largemessages"

    def lease_blob(self, partition: int) -> str:
        """The legacy ("default") blob lease manager's blob for a partition
        (``BlobPartitionLeaseManager``)."""
        return f"default/{self.control_queue(partition)}"

    def partition_of(self, instance_id: str) -> int:
        return partition_of(instance_id, self.partition_count)

    def control_queue_of(self, instance_id: str) -> str:
        return self.control_queue(self.partition_of(instance_id))
