"""Experiments: the configs behind every published number, their runner and the
generated tables (``minirec reproduce TABLE``)."""

from .config import TABLES, Config, ConfigError, load, table_configs, table_names
from .runner import run

__all__ = [
    "TABLES",
    "Config",
    "ConfigError",
    "load",
    "table_configs",
    "table_names",
    "run",
]
