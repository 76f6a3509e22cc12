"""Behavioural detection: abnormal activity in agency logs beyond known indicators
(issue 25). Pure (no Django): the CLI (`bulwark monitor detect`), the periodic task and
the benchmark share it. See docs/monitoring.md, "Behavioural detection"."""

from bulwark.monitoring.engine.behaviour.dataset import Dataset, LogError, read_logs
from bulwark.monitoring.engine.behaviour.detectors import DETECTORS
from bulwark.monitoring.engine.behaviour.run import ENGINES, detect
from bulwark.monitoring.engine.behaviour.settings import AllowList, Finding, Settings

__all__ = [
    "DETECTORS",
    "ENGINES",
    "AllowList",
    "Dataset",
    "Finding",
    "LogError",
    "Settings",
    "detect",
    "read_logs",
]
