"""Group commit: appends that come together share a transaction, each keeps its own outcome,
and no caller waits behind another forever."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from chronik.errors import ChronikError, Conflict, Unavailable
from chronik.events.commit import GroupCommitter


class Append:
    def __init__(self, name: str, refuse: bool = False) -> None:
        self.name = name
        self.events = [name]
        self.refuse = refuse


class Store:
    """Commits by recording each group; an append made with ``refuse`` is refused alone."""

    committers = 1

    def __init__(self, inline: bool, fail: bool = False) -> None:
        self.commits_inline = inline
        self.fail = fail
        self.groups: list[list[str]] = []

    async def commit_group(self, appends: Sequence[Any]) -> list[Any]:
        if not self.commits_inline:
            await asyncio.sleep(0)
        if self.fail:
            raise RuntimeError("disk on fire")
        self.groups.append([a.name for a in appends])
        return [Conflict(f"{a.name} refused") if a.refuse else [a.name] for a in appends]


def _committer(store: Store) -> GroupCommitter:
    return GroupCommitter(store, max_events=100)  # type: ignore[arg-type]


@pytest.mark.parametrize("inline", [True, False])
async def test_appends_made_together_share_one_commit_and_keep_their_own_outcome(
    inline: bool,
) -> None:
    store = Store(inline)
    committer = _committer(store)
    appends = [Append(f"a{i}", refuse=i == 3) for i in range(20)]
    outcomes = await asyncio.gather(
        *(committer.submit(a) for a in appends),  # type: ignore[arg-type]
        return_exceptions=True,
    )
    assert [o if isinstance(o, list) else str(o) for o in outcomes] == [
        "a3 refused" if i == 3 else [f"a{i}"] for i in range(20)
    ]
    assert store.groups == [[f"a{i}" for i in range(20)]] if inline else len(store.groups) <= 2
    await committer.close()


async def test_a_caller_appending_in_a_loop_lets_the_others_through() -> None:
    store = Store(inline=True)
    committer = _committer(store)
    finished: list[str] = []

    async def busy() -> None:
        for i in range(50):
            await committer.submit(Append(f"busy{i}"))  # type: ignore[arg-type]
        finished.append("busy")

    async def once() -> None:
        await committer.submit(Append("once"))  # type: ignore[arg-type]
        finished.append("once")

    await asyncio.gather(busy(), once())
    assert finished == ["once", "busy"]
    await committer.close()


@pytest.mark.parametrize("inline", [True, False])
async def test_a_failed_commit_fails_its_group_and_the_next_append_commits(inline: bool) -> None:
    store = Store(inline, fail=True)
    committer = _committer(store)
    outcomes = await asyncio.gather(
        *(committer.submit(Append(f"a{i}")) for i in range(3)),  # type: ignore[arg-type]
        return_exceptions=True,
    )
    assert all(isinstance(o, Unavailable) for o in outcomes), outcomes
    assert all("disk on fire" in str(o) for o in outcomes)
    store.fail = False
    assert await committer.submit(Append("next")) == ["next"]  # type: ignore[arg-type,comparison-overlap]
    await committer.close()


async def test_an_append_queued_behind_a_cancelled_caller_still_commits() -> None:
    store = Store(inline=True)
    committer = _committer(store)
    first = asyncio.ensure_future(committer.submit(Append("first")))  # type: ignore[arg-type]
    await asyncio.sleep(0)  # first now commits in its own task, and yields once
    second = asyncio.ensure_future(committer.submit(Append("second")))  # type: ignore[arg-type]
    first.cancel()
    assert await second == ["second"]  # type: ignore[comparison-overlap]
    with pytest.raises(asyncio.CancelledError):
        await first
    await committer.close()
    assert [name for group in store.groups for name in group] == ["first", "second"]


async def test_closing_refuses_new_appends() -> None:
    committer = _committer(Store(inline=True))
    await committer.close()
    with pytest.raises(ChronikError, match="shutting down"):
        await committer.submit(Append("late"))  # type: ignore[arg-type]
