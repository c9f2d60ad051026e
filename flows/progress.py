"""Where flows report each edition as it ends, for whoever shows progress (the CLI)."""

import logging

# Records carry `edition` (a result dict), and in a backfill `done`, `total` and `eta`
# (seconds left, or None); a backfill's note of the dates it skips carries `note`.
EDITIONS = logging.getLogger("epaper.editions")
