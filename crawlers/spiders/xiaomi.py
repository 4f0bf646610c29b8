"""Xiaomi GetApps (小米应用商店) app-market comment API, newest first, page 0 first.

Unofficial and low-confidence (the endpoint is known from 2016–2020 crawlers only), hence disabled by
default in sources.yaml. Targets: numeric app-market ids (``xiaomi.app_ids``), optionally mapped to
package names (``xiaomi.packages``) so reviews link to ``app.mi.com/details?id=…``.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

from crawlers.parsers import xiaomi as parser
from crawlers.spiders._base import VocSpider

__all__ = ["XiaomiSpider"]


class XiaomiSpider(VocSpider):
    name = "xiaomi"
    source = "xiaomi"
    parsers = {"xiaomi_comments": parser.parse_comments}

    def parse_kwargs(self, kind: str, meta: dict[str, Any]) -> dict[str, Any]:
        return {"package": meta.get("package")}

    async def start(self) -> AsyncIterator[Any]:
        if self.skipped():
            return
        for product, target in self.targets():
            for app_id in target.app_ids:
                # The market app sends its device id; without one configured, a stable id per app.
                seed = f"voc:{app_id}".encode()
                client_id = target.client_id or hashlib.md5(seed, usedforsecurity=False).hexdigest()
                url = parser.comments_url(self.base_url, app_id, page=0, client_id=client_id, os=target.os)
                yield self.page_request(url, "xiaomi_comments", doc_source=self.source, target=app_id,
                                        product=product.id, max_pages=target.max_pages,
                                        stop_at=self.cursor(self.source, app_id),
                                        package=target.packages.get(app_id))
