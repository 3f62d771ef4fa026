"""fifo.Waves: the order records are settled in, without sending anything."""

from collections.abc import Collection

from hypothesis import given
from hypothesis import strategies as st

from rokt_forwarder.fifo import Waves


def drain(waves: Waves, failing: Collection[int] = ()) -> tuple[list[list[int]], list[int]]:
    """Every wave taken, closing the group of each failing record; and the records held back."""
    taken, held_back = [], []
    while wave := waves.next():
        taken.append(wave)
        for index in wave:
            if index in failing:
                held_back += waves.close(index)
    return taken, held_back


def test_records_of_a_standard_queue_are_one_wave() -> None:
    assert drain(Waves(range(5))) == ([[0, 1, 2, 3, 4]], [])


def test_each_wave_takes_the_next_record_of_every_group() -> None:
    assert drain(Waves(["a", "b", "a", "b", "a", "c"])) == ([[0, 1, 5], [2, 3], [4]], [])


def test_a_failure_holds_back_the_rest_of_its_group_only() -> None:
    waves, held_back = drain(Waves(["a", "b", "a", "b", "a", "c"]), failing={2})
    assert waves == [[0, 1, 5], [2, 3]]
    assert held_back == [4]


def test_a_failure_in_the_last_record_of_a_group_holds_nothing_back() -> None:
    assert drain(Waves(["a", "a"]), failing={1}) == ([[0], [1]], [])


def test_closing_a_group_twice_holds_nothing_back_the_second_time() -> None:
    waves = Waves(["g", "g", "g"])
    assert waves.next() == [0]
    assert waves.close(0) == [1, 2]
    assert waves.close(0) == []
    assert waves.next() == []


def test_no_records_no_waves() -> None:
    assert Waves([]).next() == []


@given(
    groups=st.lists(st.sampled_from("abcd"), max_size=30),
    failing=st.sets(st.integers(min_value=0, max_value=29)),
)
def test_every_record_is_taken_or_held_back_exactly_once_and_groups_keep_their_order(
    groups: list[str], failing: set[int]
) -> None:
    waves, held_back = drain(Waves(groups), failing)
    taken = [index for wave in waves for index in wave]
    assert sorted(taken + held_back) == list(range(len(groups)))
    for wave in waves:
        assert len({groups[i] for i in wave}) == len(wave), "one record per group per wave"
    for group in set(groups):
        order = [i for i in taken if groups[i] == group]
        assert order == sorted(order)
        closed = [i for i in order if i in failing]
        if closed:
            assert order[-1] == closed[0], "nothing of a group is taken after its first failure"
