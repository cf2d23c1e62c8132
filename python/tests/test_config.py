"""TracingConfig: fields, validation, environment, files, precedence, the C++ mapping."""

import json
import re

import pytest

from synth_tracing import config as config_module
from synth_tracing import tracing_config
from synth_tracing.config import TracingConfig, get_config


def test_defaults_and_alias_module():
    c = TracingConfig()
    assert tracing_config is config_module
    assert (c.enabled, c.otel_enabled, c.otel_service_name, c.sampling_rate) == (True, False, "synth-ai", 1.0)
    assert set(c.pii_patterns) >= {"ssn", "credit_card", "email", "phone"}
    assert all(isinstance(p, re.Pattern) for p in c.pii_patterns.values())


@pytest.mark.parametrize("kwargs, message", [
    ({"sampling_rate": 1.5}, "sampling_rate must be between 0.0 and 1.0"),
    ({"otel_sampling_rate": -0.1}, "otel_sampling_rate must be between 0.0 and 1.0"),
    ({"otel_batch_max_queue_size": 0}, "otel_batch_max_queue_size must be positive"),
    ({"max_attribute_length": -1}, "max_attribute_length must be positive"),
    ({"otel_service_name": "  "}, "otel_service_name cannot be empty"),
])
def test_validation_errors(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TracingConfig(**kwargs)


def test_maps_onto_the_cpp_config():
    c = TracingConfig(sampling_rate=0.25, otel_service_name="svc", pii_patterns={"employee": r"EMP-\d+"},
                      max_attribute_length=123)
    core = c.to_core()
    assert (core.sampling_rate, core.service_name, core.max_payload_bytes) == (0.25, "svc", 123)
    assert core.pii_patterns == [("employee", r"EMP-\d+", "[EMPLOYEE]")]
    core.validate()


def test_otel_max_concurrent_exports_is_exposed_like_the_other_otel_fields(tmp_path, monkeypatch):
    assert TracingConfig().otel_max_concurrent_exports == 2
    assert TracingConfig().to_core().otel_max_concurrent_exports == 2
    core = TracingConfig(otel_max_concurrent_exports=4).to_core()
    assert core.otel_max_concurrent_exports == 4
    core.validate()
    with pytest.raises(ValueError, match="otel_max_concurrent_exports must be positive"):
        TracingConfig(otel_max_concurrent_exports=0)
    # The variable the C++ configuration reads, and the files' key.
    monkeypatch.setenv("SYNTH_TRACING_OTEL_MAX_CONCURRENT_EXPORTS", "3")
    assert TracingConfig.from_env().otel_max_concurrent_exports == 3
    assert TracingConfig.load(otel_max_concurrent_exports=2).otel_max_concurrent_exports == 2
    monkeypatch.delenv("SYNTH_TRACING_OTEL_MAX_CONCURRENT_EXPORTS")
    path = tmp_path / "tracing.yaml"
    path.write_text("otel_max_concurrent_exports: 5\n")
    assert TracingConfig.from_file(path).to_core().otel_max_concurrent_exports == 5


def test_pattern_the_cpp_core_rejects_is_a_value_error():
    # RE2 has no backreferences: the C++ core names the pattern.
    with pytest.raises(ValueError, match="bad"):
        TracingConfig(pii_patterns={"bad": re.compile(r"(a)\1")})


def test_from_env(monkeypatch):
    monkeypatch.setenv("SYNTH_TRACING_SAMPLING_RATE", "0.5")
    monkeypatch.setenv("SYNTH_TRACING_OTEL_ENABLED", "YES")
    monkeypatch.setenv("SYNTH_TRACING_MASK_PII", "0")
    monkeypatch.setenv("SYNTH_TRACING_OTEL_BATCH_MAX_QUEUE_SIZE", "not-a-number")
    c = TracingConfig.from_env()
    assert (c.sampling_rate, c.otel_enabled, c.mask_pii, c.otel_batch_max_queue_size) == (0.5, True, False, 2048)


def test_load_precedence(tmp_path, monkeypatch):
    path = tmp_path / "tracing.json"
    path.write_text(json.dumps({"sampling_rate": 0.1, "otel_service_name": "from-file", "track_costs": False}))
    monkeypatch.setenv("SYNTH_TRACING_OTEL_SERVICE_NAME", "from-env")
    c = TracingConfig.load(config_file=path, track_costs=True)
    assert (c.sampling_rate, c.otel_service_name, c.track_costs) == (0.1, "from-env", True)
    with pytest.raises(FileNotFoundError):
        TracingConfig.from_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(json.JSONDecodeError):
        TracingConfig.from_file(bad)


def test_get_config_is_cached(monkeypatch):
    first = get_config()
    assert get_config() is first
    monkeypatch.setenv("SYNTH_TRACING_SAMPLING_RATE", "0.75")
    config_module._config_cache.clear()
    assert get_config().sampling_rate == 0.75


def test_seed_readme_configuration_example():
    config = TracingConfig(
        enabled=True,
        otel_enabled=True,
        otel_service_name="my-service",
        mask_pii=True,
        track_costs=True
    )
    assert config.to_core().mode == "dual"


def test_from_file_reads_yaml_and_toml_through_the_cpp_reader(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "yaml", None)  # no Python YAML package: `import yaml` would fail
    path = tmp_path / "tracing.yaml"
    path.write_text("# tracing settings\n"
                    "enabled: true\n"
                    "otel_enabled: yes\n"
                    "sampling_rate: 0.25\n"
                    "otel_batch_max_queue_size: 4096\n"
                    "otel_service_name: \"from-yaml\"\n"
                    "mask_pii: false\n"
                    "pii_patterns:\n"
                    "  employee_id: 'EMP-\\d{6}'\n")
    c = TracingConfig.from_file(path)
    assert (c.enabled, c.otel_enabled, c.sampling_rate, c.otel_batch_max_queue_size) == (True, True, 0.25, 4096)
    assert (c.otel_service_name, c.mask_pii) == ("from-yaml", False)
    assert c.pii_patterns["employee_id"].pattern == r"EMP-\d{6}" and "ssn" in c.pii_patterns
    assert TracingConfig.load(config_file=path, sampling_rate=0.5).sampling_rate == 0.5

    (tmp_path / "empty.yml").write_text("")
    assert TracingConfig.from_file(tmp_path / "empty.yml") == TracingConfig()

    toml = tmp_path / "tracing.toml"
    toml.write_text('sampling_rate = 0.5\notel_service_name = "from-toml"\ntrack_costs = false\n')
    c = TracingConfig.from_file(toml)
    assert (c.sampling_rate, c.otel_service_name, c.track_costs) == (0.5, "from-toml", False)


@pytest.mark.parametrize("text, message", [
    ("sampling_rate: [1, 2\n", "not valid YAML"),
    ("- a\n- b\n", "must hold a mapping"),
    ("sampling_rate: lots\n", "sampling_rate in .*'lots' is not a valid float"),
    ("mask_pii: maybe\n", "mask_pii in .*'maybe' is not a valid bool"),
    ("sampling_rate: 2.0\n", "sampling_rate must be between 0.0 and 1.0"),
    ("colour: blue\n", "unknown tracing configuration keys in .*: colour"),
])
def test_bad_yaml_files_name_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        TracingConfig.from_file(path)
    if "valid YAML" in message or "mapping" in message:
        assert str(path) in str(info.value)
