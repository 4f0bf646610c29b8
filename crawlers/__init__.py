"""The VOC Scrapy project: spiders, pure parsers, middlewares and item pipelines."""

from crawlers.items import FeedbackItem, doc_id

__all__ = ["FeedbackItem", "doc_id"]
