"""Composition root: the `voc` CLI, scheduler, HTTP API and web page. Domain packages never import it."""

__all__: list[str] = []
