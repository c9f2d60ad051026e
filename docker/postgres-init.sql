-- The dedupe catalog lives beside Prefect's own database.
CREATE DATABASE epaper_catalog OWNER epaper;
