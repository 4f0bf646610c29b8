"""VOC configuration: the YAML files in this folder and their typed, validated schema.

``load_settings()`` reads ``voc.yaml``, ``sources.yaml``, ``topics.yaml`` and ``alerts.yaml`` once and
returns one frozen :class:`Settings`; each package receives its own section from it.
"""

from __future__ import annotations

from configs._validate import ConfigError
from configs.settings import Settings, default_config_dir, load_settings

__all__ = ["ConfigError", "Settings", "default_config_dir", "load_settings"]
