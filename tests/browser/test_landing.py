"""The landing page's one link that depends on the app: the console's, once there is one (the
browser tests in test_pages.py check the page as it is today, without a console)."""

from __future__ import annotations

from pathlib import Path

import httpx

from chronik.api import create_app
from chronik.settings import Settings


async def test_the_landing_page_links_the_console_once_the_app_has_one(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'chronik.db'}"))
    app.add_api_route("/console/", lambda: "console", include_in_schema=False)
    transport = httpx.ASGITransport(app=app)

    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        landing = await client.get("/")

    assert landing.status_code == 200
    assert '<a href="/console/">Console</a>' in landing.text
