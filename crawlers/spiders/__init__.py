"""The VOC spiders, one module per source. Each is thin: requests, paging and stop rules; parsing is in
:mod:`crawlers.parsers`. Their shared behaviour (arguments, targets, cursors, page bookkeeping) is
:class:`crawlers.spiders._base.VocSpider`."""
