"""TracingConfig (the original's ``synth_ai.tracing_v2.config`` / ``tracing_config``): the
reference's fields, validated, mapped onto the C++ TracingConfig by ``to_core()``.

Precedence of ``load``: arguments > environment (``SYNTH_TRACING_<FIELD>``) > file > defaults."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Pattern

from . import _core

# Python spellings of the C++ built-in detectors, tried in this order by mask_pii. RE2 syntax is
# mostly Python's; a pattern Python cannot compile gets this simpler equivalent.
_FALLBACK_PATTERNS = {
    "ssn": r"\b\d{3}-\d{2}-\d{4}\b",
    "credit_card": r"\b(?:\d[ -]?){13,19}\b",
    "email": r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b",
    "phone": r"(?:\+?1[-. ]?)?(?:\(\d{3}\)\s?|\b\d{3}[-. ])?\d{3}[-. ]\d{4}\b",
}
BUILTIN_PII_NAMES = ("ssn", "credit_card", "email", "phone")


def default_pii_patterns() -> Dict[str, Pattern]:
    """The built-in detectors as compiled Python regexes, by name."""
    core = {name: regex for name, regex, _ in _core.builtin_pii_patterns()}
    out: Dict[str, Pattern] = {}
    for name in BUILTIN_PII_NAMES:
        # The phone forms the reference lists ("555-1234", "(555) 987-6543") are wider than the
        # C++ detector's: the Python pass uses the wider pattern.
        source = core.get(name) if name != "phone" else None
        try:
            out[name] = re.compile(source) if source else re.compile(_FALLBACK_PATTERNS[name])
        except re.error:
            out[name] = re.compile(_FALLBACK_PATTERNS[name])
    return out


_RATES = ("sampling_rate", "otel_sampling_rate")
_POSITIVE = ("otel_batch_max_queue_size", "otel_batch_max_export_size", "otel_batch_schedule_delay_ms",
             "otel_max_concurrent_exports", "max_message_size", "max_attribute_length")


@dataclass
class TracingConfig:
    """How tracing behaves. Invalid values raise ValueError naming the field."""

    enabled: bool = True
    emit_events: bool = True
    emit_messages: bool = True
    otel_enabled: bool = False
    otel_service_name: str = "synth-ai"
    otel_service_version: str = "0.1.0"
    otel_deployment_environment: str = "production"
    sampling_rate: float = 1.0
    otel_sampling_rate: float = 1.0
    otel_batch_max_queue_size: int = 2048
    otel_batch_max_export_size: int = 512
    otel_batch_schedule_delay_ms: int = 5000
    # Span batches in flight at once, each on its own connection (not in the original).
    otel_max_concurrent_exports: int = 2
    max_message_size: int = 1048576
    max_attribute_length: int = 10000
    payload_truncation_enabled: bool = True
    track_costs: bool = True
    mask_pii: bool = True
    pii_patterns: Dict[str, Pattern] = field(default_factory=default_pii_patterns)

    def __post_init__(self) -> None:
        # User entries are merged over the built-in detectors (strings compiled).
        merged = default_pii_patterns()
        for name, pattern in (self.pii_patterns or {}).items():
            merged[name] = re.compile(pattern) if isinstance(pattern, str) else pattern
        self.pii_patterns = merged
        self.validate()

    def validate(self) -> None:
        for name in _RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0.0 and 1.0")
        for name in _POSITIVE:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if not str(self.otel_service_name).strip():
            raise ValueError("otel_service_name cannot be empty")
        # The C++ library checks what it will use (pattern syntax among them).
        core = self.to_core()
        core.validate()
        try:
            _core.PiiMasker(core.pii_patterns)  # compiles the custom patterns with RE2
        except RuntimeError as exc:
            raise ValueError(f"pii_patterns: {exc}") from None

    def to_core(self) -> "_core.CoreConfig":
        """The C++ TracingConfig with these settings (fields given here count as set in code)."""
        c = _core.CoreConfig()
        c.enabled = bool(self.enabled)
        c.mode = "dual" if self.otel_enabled else "v2"
        c.sampling_rate = float(self.sampling_rate)
        c.max_payload_bytes = int(self.max_attribute_length)
        c.truncate_payloads = bool(self.payload_truncation_enabled)
        c.mask_pii = bool(self.mask_pii)
        c.track_costs = bool(self.track_costs)
        c.service_name = str(self.otel_service_name)
        c.service_version = str(self.otel_service_version)
        c.deployment_environment = str(self.otel_deployment_environment)
        c.otel_max_queue_size = int(self.otel_batch_max_queue_size)
        c.otel_max_export_batch_size = int(self.otel_batch_max_export_size)
        c.otel_schedule_delay_ms = int(self.otel_batch_schedule_delay_ms)
        c.otel_max_concurrent_exports = int(self.otel_max_concurrent_exports)
        c.pii_patterns = [(name, p.pattern, f"[{name.upper()}]") for name, p in self.pii_patterns.items()
                          if name not in BUILTIN_PII_NAMES]
        return c

    # ---- loaders ----

    @classmethod
    def _field_values_from_env(cls) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "pii_patterns":
                continue
            raw = os.environ.get(f"SYNTH_TRACING_{f.name.upper()}")
            if raw is None:
                continue
            value = _parse(f.type, raw)
            if value is not None:  # unparsable values keep their defaults
                out[f.name] = value
        return out

    @classmethod
    def from_env(cls) -> "TracingConfig":
        """Defaults overridden by ``SYNTH_TRACING_<FIELD>`` variables."""
        return cls(**cls._field_values_from_env())

    @classmethod
    def _field_values_from_file(cls, path: Any) -> Dict[str, Any]:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"tracing configuration file {path} not found")
        text = path.read_text()
        suffix = path.suffix.lower()
        if suffix in (".yaml", ".yml", ".toml"):
            # The C++ config reader (yaml-cpp, toml++): no Python YAML package needed.
            data = _core.parse_config_text(text, "toml" if suffix == ".toml" else "yaml", str(path))
        else:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError(f"tracing configuration file {path} must hold a mapping of settings")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"unknown tracing configuration keys in {path}: {', '.join(unknown)}")
        out = {}
        for name, value in data.items():
            if isinstance(value, str) and name != "pii_patterns":
                # YAML scalars arrive as text; typed here as the environment's values are.
                kind = fields[name].type
                typed = _parse(kind, value)
                if typed is None:
                    raise ValueError(f"{name} in {path}: {value!r} is not a valid {kind}")
                value = typed
            out[name] = value
        return out

    @classmethod
    def from_file(cls, path: Any) -> "TracingConfig":
        """From a JSON file, or YAML for ``.yaml``/``.yml`` and TOML for ``.toml`` (read by the C++
        config reader). Missing file: FileNotFoundError; bad JSON: json.JSONDecodeError; bad YAML
        or TOML, or a value of the wrong type: ValueError naming the file."""
        return cls(**cls._field_values_from_file(path))

    @classmethod
    def load(cls, config_file: Any = None, **overrides: Any) -> "TracingConfig":
        """Arguments > environment > file > defaults."""
        values: Dict[str, Any] = {}
        if config_file is not None:
            values.update(cls._field_values_from_file(config_file))
        values.update(cls._field_values_from_env())
        values.update(overrides)
        return cls(**values)


def _parse(kind: Any, raw: str) -> Any:
    kind = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    text = raw.strip()
    if kind == "bool":
        low = text.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        return None
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        return None
    return raw


_config_cache: Dict[str, TracingConfig] = {}


def get_config() -> TracingConfig:
    """One shared configuration (``load(config_file=$SYNTH_TRACING_CONFIG_FILE)``), cached in
    ``_config_cache``; ``_config_cache.clear()`` forces a reload."""
    config = _config_cache.get("config")
    if config is None:
        config = TracingConfig.load(config_file=os.environ.get("SYNTH_TRACING_CONFIG_FILE"))
        _config_cache["config"] = config
    return config


def set_config(config: TracingConfig) -> None:
    """Makes ``config`` the shared configuration returned by get_config()."""
    _config_cache["config"] = config


def detect_provider(model: str, endpoint: str = "") -> Optional[str]:
    """``"anthropic"``, ``"azure_openai"``, ``"openai"`` or None, from the C++ provider detection."""
    provider = _core.detect_provider(model or "", endpoint or "")
    return provider if provider in ("anthropic", "azure_openai", "openai") else None


__all__ = ["TracingConfig", "get_config", "set_config", "detect_provider", "default_pii_patterns", "_config_cache"]
