"""The reading room: a read-only web interface (and JSON API) over the archive and catalog."""
