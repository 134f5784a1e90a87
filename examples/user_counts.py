"""A view: how many users each organisation has, kept up to date from the log.

Run it with the server (or with ``chronik worker``):

    chronik serve --views examples/user_counts.py:views

then append ``user.added`` / ``user.removed`` events with a ``resourceOwner`` and read what
the view keeps, and how it runs:

    chronik views rows user_counts      # org:<resourceOwner> -> users; GET /v1/views/…/rows
    chronik views list                  # its position, lag and failed events
    chronik failed list                 # the events it failed on

A handler gets each event of the types it asked for, in sequence order, per tenant, and
``rows``: the view's own JSON documents by key. What it writes commits together with the
view's position, so after a crash no event is counted twice or lost. When it raises, the
event becomes a failed event (``chronik failed list``) and is retried with backoff; after
``max_failures`` it is skipped, or, with ``on_exhausted="stop"``, the view waits for an
operator (``chronik failed retry`` / ``chronik failed remove``).
"""

from __future__ import annotations

from chronik import Event
from chronik.views import Registry, Rows

views = Registry()


class MissingOrganisation(Exception):
    """An error with an id shows as ``ID=<id> Message=<text>`` in the failed-event record."""

    error_id = "USER-COUNTS-ORG"


@views.view(
    "user_counts",
    database="examples",
    event_types=["user.added", "user.removed"],
    max_failures=5,
    on_exhausted="skip",
)
async def user_counts(event: Event, rows: Rows) -> None:
    organisation = event.resource_owner
    if not organisation:
        raise MissingOrganisation(f"event {event.sequence} has no resource owner")
    key = f"org:{organisation}"
    count = await rows.get(key, 0)
    rows.put(key, count + 1 if event.type == "user.added" else count - 1)
