# Shared fixtures live in tests/fixtures/, one module per concern.
pytest_plugins = [
    "tests.fixtures.s3",
    "tests.fixtures.replica",
    "tests.fixtures.prefect",
    "tests.fixtures.edition",
    "tests.fixtures.dataset",  # demo_archive: an archive `epaper demo` wrote, read-only
    "tests.fixtures.browser",  # chromium: headless Debian Chromium through Playwright
    "tests.fixtures.postgres",  # private_postgres: a PostgreSQL a test may stop and restart
    "tests.faults_report",  # the fault_report fixture: the README fault table's rows
]
