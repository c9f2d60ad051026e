"""Text processing: CJK normalisation, clean, dedupe (shingles, MinHash), PDF text.

No Prefect, no S3, no Scrapy: a plain library the flows, the catalog and the benches call.
"""
