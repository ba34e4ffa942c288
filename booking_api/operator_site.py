"""What the composition's pages need from booking about the operator: its identity (for
the header and footer) and the legal pages' content, already as safe HTML."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from booking_api import legal_pages
from booking_api.context import BookingContext
from booking_api.site_identity import SiteIdentity


class OperatorSite:
    def __init__(self, ctx: BookingContext) -> None:
        self._ctx = ctx

    async def identity(self) -> SiteIdentity:
        """The identity as of at most ``site_identity.FRESH_FOR_S`` ago."""
        return await self._ctx.site_identity.current(self._ctx.database)

    async def legal_page(
        self, slug: str, measure: Mapping[str, Any] | None = None
    ) -> tuple[str, str]:
        """The page's title and its content as HTML (every outside text escaped)."""
        identity = await self.identity()
        stored = (await legal_pages.stored_texts(self._ctx.database)).get(slug)
        page = legal_pages.PAGES[slug]
        content = legal_pages.page_html(slug, identity, self._ctx.config, stored, measure)
        return page.title, content


LEGAL_PAGES = tuple(legal_pages.PAGES)
"""The legal pages' slugs: each is served at ``/<slug>``."""
