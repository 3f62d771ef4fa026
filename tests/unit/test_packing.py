"""packing.pack: in-order grouping of batches into /bulkevents requests within the count and byte limits;
packing.first_fit, the grouping that pack and sqs.chunks share."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rokt_forwarder import limits, wire
from rokt_forwarder.adapters import sqs
from rokt_forwarder.packing import first_fit, pack

MAX_ALONE = limits.MAX_REQUEST_BYTES - 2  # a batch this big fills a request: "[" + batch + "]"


def check(sizes: list[int], requests: list[list[int]], max_batches: int, max_bytes: int) -> None:
    # Every batch lands in exactly one request, in order.
    assert [i for request in requests for i in request] == list(range(len(sizes)))
    for request in requests:
        assert request, "no empty request"
        assert len(request) <= max_batches
        assert wire.bulk_size(sum(sizes[i] for i in request), len(request)) <= max_bytes
    # In-order first fit: a request is only closed when the next batch would not fit in it.
    for request, following in itertools.pairwise(requests):
        nxt = following[0]
        grown = [*request, nxt]
        assert (
            len(grown) > max_batches or wire.bulk_size(sum(sizes[i] for i in grown), len(grown)) > max_bytes
        )


@given(st.lists(st.integers(min_value=0, max_value=limits.MAX_BATCH_BYTES), max_size=400))
def test_realistic_batches_with_the_api_limits(sizes: list[int]) -> None:
    requests = pack(sizes)
    check(sizes, requests, limits.MAX_BATCHES_PER_REQUEST, limits.MAX_REQUEST_BYTES)


@given(st.lists(st.integers(min_value=0, max_value=MAX_ALONE), max_size=60))
def test_any_batch_that_fits_alone(sizes: list[int]) -> None:
    check(sizes, pack(sizes), limits.MAX_BATCHES_PER_REQUEST, limits.MAX_REQUEST_BYTES)


@given(
    st.integers(min_value=1, max_value=10).flatmap(
        lambda max_batches: st.integers(min_value=3, max_value=200).flatmap(
            lambda max_bytes: st.tuples(
                st.just(max_batches),
                st.just(max_bytes),
                st.lists(st.integers(min_value=0, max_value=max_bytes - 2), max_size=80),
            )
        )
    )
)
def test_small_limits(case: tuple[int, int, list[int]]) -> None:
    max_batches, max_bytes, sizes = case
    check(sizes, pack(sizes, max_batches=max_batches, max_bytes=max_bytes), max_batches, max_bytes)


def test_nothing_to_pack() -> None:
    assert pack([]) == []


def test_exactly_100_batches_fit_one_request_and_101_do_not() -> None:
    assert pack([100] * 100) == [list(range(100))]
    assert pack([100] * 101) == [list(range(100)), [100]]
    assert pack([0] * 250) == [list(range(100)), list(range(100, 200)), list(range(200, 250))]


def test_exactly_at_the_byte_limit() -> None:
    # Two batches: "[" + a + "," + b + "]" = a + b + 3 bytes.
    total = limits.MAX_REQUEST_BYTES - 3
    assert pack([total // 2, total - total // 2]) == [[0, 1]]
    assert pack([total // 2, total - total // 2 + 1]) == [[0], [1]]


def test_a_batch_exactly_filling_a_request_alone() -> None:
    assert pack([MAX_ALONE]) == [[0]]
    assert pack([1, MAX_ALONE, 1]) == [[0], [1], [2]]


def test_a_batch_too_large_for_a_request_raises() -> None:
    with pytest.raises(ValueError, match=r"batch 1 \(262143 bytes\) cannot fit in a request"):
        pack([10, MAX_ALONE + 1])


def test_two_full_size_batches_need_two_requests() -> None:
    # 2 x 128 KiB + 3 bytes of brackets and comma is 3 bytes over 256 KiB.
    assert pack([limits.MAX_BATCH_BYTES] * 2) == [[0], [1]]
    assert pack([limits.MAX_BATCH_BYTES - 2] * 2) == [[0, 1]]


def test_order_is_kept_even_when_a_later_small_batch_would_fit_earlier() -> None:
    big = limits.MAX_REQUEST_BYTES // 2
    assert pack([big, big, 10]) == [[0], [1, 2]]


def _old_sqs_chunks(sizes: list[int], most: int, max_bytes: int) -> list[list[int]]:
    """sqs.chunks as it was written before it shared first_fit: the reference for the test below."""
    chunks: list[list[int]] = []
    chunk: list[int] = []
    size = 0
    for n in range(len(sizes)):
        if chunk and (len(chunk) == most or size + sizes[n] > max_bytes):
            chunks.append(chunk)
            chunk, size = [], 0
        chunk.append(n)
        size += sizes[n]
    if chunk:
        chunks.append(chunk)
    return chunks


@given(st.lists(st.integers(min_value=0, max_value=2 * sqs.MAX_CALL_BYTES), max_size=60))
def test_sqs_chunks_group_as_before_with_the_shared_first_fit(sizes: list[int]) -> None:
    # An entry over the byte limit still goes alone (SQS refuses it; the sender then tries it alone).
    expected = _old_sqs_chunks(sizes, sqs.MAX_ENTRIES_PER_CALL, sqs.MAX_CALL_BYTES)
    assert sqs.chunks(sizes, sizes) == expected
    assert (
        first_fit(sizes, sqs.MAX_ENTRIES_PER_CALL, lambda total, _: total <= sqs.MAX_CALL_BYTES) == expected
    )


def test_first_fit_closes_a_group_on_the_count_or_the_limit_and_never_drops_an_item() -> None:
    fits = lambda total, count: total <= 10  # noqa: E731 - a one-line limit
    assert first_fit([], 3, fits) == []
    assert first_fit([1, 1, 1, 1], 3, fits) == [[0, 1, 2], [3]]
    assert first_fit([6, 5, 4, 20, 1], 3, fits) == [[0], [1, 2], [3], [4]]
