"""The multi-voucher allocation as pure functions: examples, and properties checked by
Hypothesis against a brute-force optimum (max flow = min cut over every set of vouchers)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pos.till.allocation import Allocation, Purse, allocate, ceiling, priority

SOON = datetime(2026, 6, 1, tzinfo=UTC)


def purse(cap: int, eligible: Sequence[bool], days: int = 30) -> Purse:
    return Purse(cap, SOON + timedelta(days=days), tuple(eligible))


def test_three_children_pay_exactly_the_basket() -> None:
    split = allocate([15000, 10000], [purse(10000, [True, True])] * 3)
    assert split.parts == (10000, 10000, 5000)
    assert split.covered == 25000
    assert [split.line_paid(i) for i in range(2)] == [15000, 10000]


def test_each_voucher_pays_its_own_line() -> None:
    milk_and_book = [4500, 3800]
    nutrition, book = purse(15000, [True, False]), purse(10000, [False, True])
    split = allocate(milk_and_book, [nutrition, book])
    assert split.split == ((4500, 0), (0, 3800))


def test_a_narrow_voucher_is_not_crowded_out() -> None:
    # The broad voucher, scanned first, takes the book line at first; the books-only voucher
    # moves it to the milk so that it can pay the rest of the book.
    broad, books_only = purse(5000, [True, True]), purse(5000, [False, True])
    split = allocate([3000, 5000], [broad, books_only])
    assert split.covered == 8000
    assert split.split == ((3000, 2000), (0, 3000))


def test_value_expiring_first_is_spent_first() -> None:
    later, sooner = purse(10000, [True], days=60), purse(10000, [True], days=5)
    assert allocate([6000], [later, sooner]).parts == (0, 6000)
    same_day = [purse(10000, [True]), purse(10000, [True])]
    assert allocate([6000], same_day).parts == (6000, 0)  # then as scanned


def test_ceiling() -> None:
    assert ceiling(30000, per_visit_cap=10000) == 10000
    assert ceiling(5000, per_visit_cap=10000) == 5000
    assert ceiling(48000, unit_price=6000, uses_left=3) == 6000
    assert ceiling(48000, unit_price=6000, uses_left=0) == 0
    assert ceiling(30000, limits=[2500, 9000]) == 2500
    assert ceiling(-5) == 0


# ------------------------------------------------------------------------------------------
# properties


def best_total(lines: Sequence[int], purses: Sequence[Purse]) -> int:
    """Max flow by min cut: min over voucher sets S of (ceilings outside S) + (lines any
    voucher of S may pay)."""
    best = None
    for mask in range(1 << len(purses)):
        inside = [p for i, p in enumerate(purses) if mask >> i & 1]
        outside = sum(p.ceiling for i, p in enumerate(purses) if not mask >> i & 1)
        reach = sum(t for li, t in enumerate(lines) if any(p.eligible[li] for p in inside))
        cut = outside + reach
        best = cut if best is None else min(best, cut)
    assert best is not None
    return best


def greedy_parts(lines: Sequence[int], purses: Sequence[Purse]) -> list[int]:
    """What each voucher pays when each, in priority order, takes all it can: the gain of
    the best total as it joins."""
    parts = [0] * len(purses)
    before = 0
    joined: list[int] = []
    for i in priority(purses):
        joined.append(i)
        now = best_total(lines, [purses[j] for j in sorted(joined)])
        parts[i] = now - before
        before = now
    return parts


@st.composite
def sales(draw: st.DrawFn) -> tuple[list[int], list[Purse]]:
    n_lines = draw(st.integers(1, 5))
    lines = draw(st.lists(st.integers(0, 20000), min_size=n_lines, max_size=n_lines))
    n_purses = draw(st.integers(1, 4))
    purses = [
        Purse(draw(st.integers(0, 25000)),
              SOON + timedelta(days=draw(st.integers(0, 3))),
              tuple(draw(st.lists(st.booleans(), min_size=n_lines, max_size=n_lines))))
        for _ in range(n_purses)
    ]
    return lines, purses


def check_limits(lines: Sequence[int], purses: Sequence[Purse], split: Allocation) -> None:
    assert all(x >= 0 for row in split.split for x in row)
    for v, p in enumerate(purses):
        assert split.parts[v] <= p.ceiling
        assert all(x == 0 for x, ok in zip(split.split[v], p.eligible, strict=True) if not ok)
    for li, total in enumerate(lines):
        assert split.line_paid(li) <= total
    eligible = sum(t for li, t in enumerate(lines) if any(p.eligible[li] for p in purses))
    assert split.covered <= min(sum(lines), eligible)


@settings(max_examples=150, deadline=None)
@given(sales())
def test_split_respects_every_limit_and_is_optimal(sale: tuple[list[int], list[Purse]]) -> None:
    lines, purses = sale
    split = allocate(lines, purses)
    check_limits(lines, purses, split)
    assert split.covered == best_total(lines, purses)
    # Expiring first, then scan order: each voucher pays all it can after those before it.
    assert list(split.parts) == greedy_parts(lines, purses)


@settings(max_examples=60, deadline=None)
@given(sales())
def test_same_input_same_split(sale: tuple[list[int], list[Purse]]) -> None:
    lines, purses = sale
    assert allocate(lines, purses) == allocate(list(lines), list(purses))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 30000), min_size=1, max_size=8),
       st.lists(st.integers(0, 30000), min_size=1, max_size=10))
def test_vouchers_allowed_everything_cover_min_of_basket_and_ceilings(
        lines: list[int], caps: list[int]) -> None:
    purses = [purse(c, [True] * len(lines)) for c in caps]
    split = allocate(lines, purses)
    assert split.covered == min(sum(lines), sum(caps))
    check_limits(lines, purses, split)


def test_bad_input_is_refused() -> None:
    for lines, purses in (([100], [purse(5, [True, False])]), ([-1], [purse(5, [True])])):
        try:
            allocate(lines, purses)
        except ValueError:
            continue
        raise AssertionError("accepted")


def test_many_lines_stay_quick() -> None:
    lines = [997 + i for i in range(200)]
    purses = [purse(10000 + 37 * i, [(li + i) % 3 != 0 for li in range(200)])
              for i in range(10)]
    split = allocate(lines, purses)
    check_limits(lines, purses, split)
    assert split.covered == sum(p.ceiling for p in purses)
    assert split == allocate(lines, purses)
    assert list(itertools.accumulate(split.parts))[-1] == split.covered
