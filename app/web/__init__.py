"""Static assets of the web page (data files, no code)."""
