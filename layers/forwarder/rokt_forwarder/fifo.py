"""The order in which records are settled: in waves that keep each FIFO group in order.

SQS keeps a FIFO queue's order per MessageGroupId, and an SQS event may hold several groups. So a group's
next record is settled only once the one before it is, and the first record that fails closes its
group: the records after it are reported failed unsent, to come back in order (AWS's rule for FIFO
partial batch responses). Groups do not wait for each other: each wave takes the next record of every
open group, and the records of one wave are sent together. On a standard queue every record is a group
of its own, so all of them are one wave.
"""

from collections import deque
from collections.abc import Hashable, Sequence


class Waves:
    """Record indices, wave by wave; pure bookkeeping (the invocation does the sending)."""

    def __init__(self, groups: Sequence[Hashable]) -> None:
        """`groups[i]` is the group of record i; records of a group are taken in index order."""
        self._queues: dict[Hashable, deque[int]] = {}
        self._group_of: list[Hashable] = list(groups)
        for index, group in enumerate(self._group_of):
            self._queues.setdefault(group, deque()).append(index)

    def next(self) -> list[int]:
        """The next record of every open group, in index order; [] once every record was taken."""
        wave = [queue.popleft() for queue in self._queues.values()]
        self._queues = {group: queue for group, queue in self._queues.items() if queue}
        return sorted(wave)

    def close(self, index: int) -> list[int]:
        """Close the group of record `index` (it failed): the indices it held back, never to be taken."""
        return list(self._queues.pop(self._group_of[index], ()))
