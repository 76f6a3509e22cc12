"""The monitoring engine: indicator snapshots and log matching at line rate.

Pure Python plus native libraries (numpy, pytricia, orjson); no Django import, so the
CLI, the stream worker and the benchmark share it and it forks cheaply. See
docs/monitoring.md for the design.
"""

from bulwark.monitoring.engine.formats import FORMATS, Format, detect_format
from bulwark.monitoring.engine.indicators import Indicator, load_indicator_file
from bulwark.monitoring.engine.matcher import Hit, MatchResult, match_buffer, match_paths
from bulwark.monitoring.engine.snapshot import Snapshot

__all__ = [
    "FORMATS",
    "Format",
    "Hit",
    "Indicator",
    "MatchResult",
    "Snapshot",
    "detect_format",
    "load_indicator_file",
    "match_buffer",
    "match_paths",
]
