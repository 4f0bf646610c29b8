"""Scrapy settings module (named by scrapy.cfg), so ``scrapy crawl SOURCE -a product=… -O items.jsonl`` works.

The values come from VOC's configuration, loaded once here (``VOC_CONFIG_DIR``, ``VOC_HOME`` and the other
``VOC_*`` overrides apply) and translated by :func:`crawlers.config.scrapy_settings`.
"""

from configs import load_settings as _load_settings
from crawlers.config import scrapy_settings as _scrapy_settings

globals().update(_scrapy_settings(_load_settings()))
