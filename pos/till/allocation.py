"""Splitting one basket across several vouchers: pure functions, no I/O.

Each basket line's amount may be paid by any voucher whose rules allow that line. Each
voucher pays at most its *ceiling* in this sale (balance, per-visit cap, one session's
price, uses left, and any period limit). The split covers as much of the basket as is
possible at all, never more than a line's total, never more than a ceiling.

It is a transportation problem (vouchers -> lines -> paid), solved as a maximum flow with
augmenting paths. Vouchers are served in priority order (the value that expires first,
then the order they were scanned): each takes as much as it can before the next one
starts, moving earlier vouchers to other lines where that lets it pay more without
lowering theirs. Because what a set of vouchers can pay together is a polymatroid, this
greedy order reaches the largest total, and among the splits with that total it is the
one whose parts are largest in priority order. Ties inside the search are broken by line
and priority order, so the same input always gives the same split.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from datetime import datetime


@dataclasses.dataclass(frozen=True)
class Purse:
    """One voucher as the allocation sees it."""

    ceiling: int  # the most it may pay in this sale, in minor units
    expires_at: datetime  # when its first live value expires: spent first
    eligible: tuple[bool, ...]  # per basket line: may this voucher pay for it


@dataclasses.dataclass(frozen=True)
class Allocation:
    """`split[v][l]`: what voucher `v` (input order) pays of line `l`."""

    split: tuple[tuple[int, ...], ...]

    @property
    def parts(self) -> tuple[int, ...]:
        return tuple(sum(row) for row in self.split)

    @property
    def covered(self) -> int:
        return sum(self.parts)

    def line_paid(self, line: int) -> int:
        return sum(row[line] for row in self.split)


def ceiling(
    available: int, *, per_visit_cap: int | None = None, unit_price: int | None = None,
    uses_left: int | None = None, limits: Sequence[int] = (),
) -> int:
    """What one voucher may pay in one sale: its live balance, capped per visit and (for
    programs counted in sessions) at one session's price; nothing once its uses are gone.
    `limits` are further caps that apply now (e.g. what a period limit leaves)."""
    if uses_left is not None and uses_left <= 0:
        return 0
    amount = available
    for cap in (per_visit_cap, unit_price, *limits):
        if cap is not None:
            amount = min(amount, cap)
    return max(0, amount)


def priority(purses: Sequence[Purse]) -> list[int]:
    """Indexes in the order vouchers are spent: expiring first, then as scanned."""
    return sorted(range(len(purses)), key=lambda i: (purses[i].expires_at, i))


def allocate(line_totals: Sequence[int], purses: Sequence[Purse]) -> Allocation:
    """The split of `line_totals` across `purses` (see the module's docstring)."""
    n_lines = len(line_totals)
    for purse in purses:
        if len(purse.eligible) != n_lines:
            raise ValueError("each purse needs one eligibility flag per line")
    if any(t < 0 for t in line_totals) or any(p.ceiling < 0 for p in purses):
        raise ValueError("amounts are never negative")
    flow = [[0] * n_lines for _ in purses]
    line_left = list(line_totals)
    purse_left = [p.ceiling for p in purses]
    order = priority(purses)
    # A second sweep costs little and finds nothing when the first was optimal; it keeps
    # the total maximal even if a later voucher opened a path for an earlier one.
    for _ in range(2):
        for v in order:
            while purse_left[v] > 0:
                path = _augmenting_path(v, purses, order, flow, line_left)
                if path is None:
                    break
                _augment(v, path, flow, line_left, purse_left)
    return Allocation(tuple(tuple(row) for row in flow))


def _augmenting_path(
    start: int, purses: Sequence[Purse], order: Sequence[int], flow: list[list[int]],
    line_left: list[int],
) -> list[tuple[int, int]] | None:
    """Breadth first from voucher `start`: a list of (voucher, line) steps ending at a line
    with room, each later voucher giving up part of the line the previous step entered."""
    came_from: dict[int, tuple[int, int | None]] = {}  # line -> (voucher, previous line)
    seen_purses = {start}
    queue: deque[tuple[int, int | None]] = deque([(start, None)])
    while queue:
        v, via = queue.popleft()
        for line, ok in enumerate(purses[v].eligible):
            if not ok or line in came_from:
                continue
            came_from[line] = (v, via)
            if line_left[line] > 0:
                return _walk_back(line, came_from)
            for w in order:  # who pays this line now and could pay elsewhere instead
                if w not in seen_purses and flow[w][line] > 0:
                    seen_purses.add(w)
                    queue.append((w, line))
    return None


def _walk_back(line: int, came_from: dict[int, tuple[int, int | None]]) -> list[
        tuple[int, int]]:
    steps: list[tuple[int, int]] = []
    current: int | None = line
    while current is not None:
        v, previous = came_from[current]
        steps.append((v, current))
        current = previous
    steps.reverse()
    return steps


def _augment(
    start: int, path: list[tuple[int, int]], flow: list[list[int]], line_left: list[int],
    purse_left: list[int],
) -> None:
    # Step k moves money of voucher path[k][0] onto line path[k][1]; for k > 0 that voucher
    # gives up the same amount of line path[k-1][1].
    amount = min(purse_left[start], line_left[path[-1][1]])
    for k in range(1, len(path)):
        amount = min(amount, flow[path[k][0]][path[k - 1][1]])
    for k, (v, line) in enumerate(path):
        flow[v][line] += amount
        if k > 0:
            flow[v][path[k - 1][1]] -= amount
    line_left[path[-1][1]] -= amount
    purse_left[start] -= amount
