"""Pack batches into as few /bulkevents requests as the API's count and size limits allow.

`first_fit` is the grouping itself, shared with adapters/sqs.py (SendMessageBatch has limits too).
"""

from collections.abc import Callable, Sequence

from rokt_forwarder import limits, wire


def first_fit(sizes: Sequence[int], max_count: int, fits: Callable[[int, int], bool]) -> list[list[int]]:
    """Indices of `sizes`, in order, in groups of at most `max_count` for which `fits(total, count)`.

    A group is closed only when the next item would break a limit; an item that breaks one alone
    still gets a group of its own (callers that cannot send it check first).
    """
    groups: list[list[int]] = []
    group: list[int] = []
    total = 0
    for index, size in enumerate(sizes):
        if group and (len(group) == max_count or not fits(total + size, len(group) + 1)):
            groups.append(group)
            group, total = [], 0
        group.append(index)
        total += size
    if group:
        groups.append(group)
    return groups


def pack(
    sizes: Sequence[int],
    *,
    max_batches: int = limits.MAX_BATCHES_PER_REQUEST,
    max_bytes: int = limits.MAX_REQUEST_BYTES,
) -> list[list[int]]:
    """Group batch indices, in order, into requests; each batch must fit a request alone.

    In-order first-fit keeps FIFO groups' order and is within one request of optimal here,
    because batches are small next to the request limit.
    """
    for index, size in enumerate(sizes):
        if wire.bulk_size(size, 1) > max_bytes:
            raise ValueError(f"batch {index} ({size} bytes) cannot fit in a request")
    return first_fit(sizes, max_batches, lambda total, count: wire.bulk_size(total, count) <= max_bytes)
