"""Pack batches into as few /bulkevents requests as the API's count and size limits allow."""

from collections.abc import Sequence

from rokt_forwarder import limits, wire


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
    requests: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for index, size in enumerate(sizes):
        if wire.bulk_size(size, 1) > max_bytes:
            raise ValueError(f"batch {index} ({size} bytes) cannot fit in a request")
        if current and (
            len(current) == max_batches or wire.bulk_size(current_bytes + size, len(current) + 1) > max_bytes
        ):
            requests.append(current)
            current, current_bytes = [], 0
        current.append(index)
        current_bytes += size
    if current:
        requests.append(current)
    return requests
