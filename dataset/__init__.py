"""What researchers do with an archive: search it, follow a reprint, export it, replay and
package its captures. Reads the archive (storage) and the text tools; no Prefect, no Scrapy."""
