"""The documentation site as a reader opens it from disk (file://, no network)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


@pytest.mark.slow
@pytest.mark.browser
def test_search_works_offline_from_the_folder(docs_site: Path, chromium):
    """A reader who opens the built site from disk (file://, no network) types in the search box
    and gets results: the offline plugin's worker shim is served from the site itself."""
    context = chromium.new_context()
    try:
        page = context.new_page()
        outside: list[str] = []
        page.on(
            "request", lambda r: outside.append(r.url) if not r.url.startswith("file:") else None
        )
        page.goto((docs_site / "guide" / "exploring.html").as_uri())
        page.locator(".md-search__input").click(force=True)
        page.keyboard.type("lasso", delay=20)
        results = page.locator(".md-search-result__item")
        results.first.wait_for(timeout=30_000)
        meta = page.locator(".md-search-result__meta").inner_text()
        titles = results.locator("h1, h2").all_inner_texts()
    finally:
        context.close()
    assert re.fullmatch(r"\d+ matching documents", meta), meta
    assert any("Exploring" in title for title in titles), titles
    assert outside == []
