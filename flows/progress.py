"""Where flows report each edition as it ends, for whoever shows progress (the CLI)."""

import logging

# Records carry `edition` (a result dict), and in a backfill `done` and `total`.
EDITIONS = logging.getLogger("epaper.editions")
