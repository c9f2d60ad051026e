"""The S3 archive: object keys (`storage.keys`), the versioned bucket (`storage.archive`),
the embedded SeaweedFS server (`storage.s3server`) and the SQL catalog (`storage.catalog`)."""
