"""`voc demo`: a fictional product's story replayed offline in the sources' real formats."""

__all__: list[str] = []
