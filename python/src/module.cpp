// synth_tracing._core: the C++ library as seen from Python. The pure-Python layer
// (python/synth_tracing/) builds the original's API on these functions.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "config/config_file.hpp"
#include "convert.hpp"
#include "synth/tracing/version.hpp"
#include "synth/tracing/config.hpp"
#include "synth/tracing/cost.hpp"
#include "synth/tracing/error.hpp"
#include "synth/tracing/model.hpp"
#include "synth/tracing/pii.hpp"

namespace py = pybind11;
using namespace synth::tracing;
using namespace synth::tracing::python;

namespace {

using PatternTuple = std::tuple<std::string, std::string, std::string>;

std::vector<PiiPattern> to_patterns(const std::vector<PatternTuple>& patterns) {
  std::vector<PiiPattern> out;
  out.reserve(patterns.size());
  for (const auto& [name, regex, replacement] : patterns) out.push_back(PiiPattern{name, regex, replacement});
  return out;
}

std::vector<PatternTuple> from_patterns(const std::vector<PiiPattern>& patterns) {
  std::vector<PatternTuple> out;
  out.reserve(patterns.size());
  for (const auto& p : patterns) out.emplace_back(p.name, p.regex, p.replacement);
  return out;
}

TracingMode parse_mode(const std::string& name) {
  for (auto m : {TracingMode::dual, TracingMode::v2, TracingMode::otel, TracingMode::disabled}) {
    if (mode_name(m) == name) return m;
  }
  throw py::value_error("mode must be one of dual, v2, otel, disabled (got \"" + name + "\")");
}

// A Setting<T> field as a read/write Python property (writing marks it as set in code).
#define SYNTH_SETTING(cls, field, type)                                                      \
  cls.def_property(                                                                          \
      #field, [](const TracingConfig& c) -> type { return c.field.value(); },                \
      [](TracingConfig& c, type v) { c.field = std::move(v); })

void bind_config(py::module_& m) {
  py::class_<TracingConfig> cls(m, "CoreConfig",
                                "The C++ TracingConfig; synth_tracing.config.TracingConfig maps onto it.");
  cls.def(py::init<>());
  SYNTH_SETTING(cls, enabled, bool);
  SYNTH_SETTING(cls, sampling_rate, double);
  SYNTH_SETTING(cls, max_payload_bytes, std::size_t);
  SYNTH_SETTING(cls, truncate_payloads, bool);
  SYNTH_SETTING(cls, mask_pii, bool);
  SYNTH_SETTING(cls, track_costs, bool);
  SYNTH_SETTING(cls, save_dir, std::filesystem::path);
  SYNTH_SETTING(cls, db_path, std::filesystem::path);
  SYNTH_SETTING(cls, service_name, std::string);
  SYNTH_SETTING(cls, service_version, std::string);
  SYNTH_SETTING(cls, deployment_environment, std::string);
  SYNTH_SETTING(cls, otel_endpoint, std::string);
  SYNTH_SETTING(cls, otel_max_queue_size, std::size_t);
  SYNTH_SETTING(cls, otel_max_export_batch_size, std::size_t);
  SYNTH_SETTING(cls, otel_schedule_delay_ms, std::size_t);
  SYNTH_SETTING(cls, otel_max_concurrent_exports, std::size_t);
  cls.def_property(
      "mode", [](const TracingConfig& c) { return std::string(mode_name(c.mode.value())); },
      [](TracingConfig& c, const std::string& v) { c.mode = parse_mode(v); });
  cls.def_property(
      "pii_patterns", [](const TracingConfig& c) { return from_patterns(c.pii_patterns.value()); },
      [](TracingConfig& c, const std::vector<PatternTuple>& v) { c.pii_patterns = to_patterns(v); });
  cls.def(
      "validate",
      [](const TracingConfig& c) {
        try {
          c.validate();
        } catch (const Error& e) {
          throw py::value_error(e.what());
        }
      },
      "Raises ValueError describing the first invalid setting.");
  cls.def(
      "load",
      [](const TracingConfig& c, std::optional<std::filesystem::path> file) {
        try {
          return c.load(file);
        } catch (const Error& e) {
          throw py::value_error(e.what());
        }
      },
      py::arg("config_file") = py::none(),
      "This configuration with the fields not set in code filled from the environment "
      "(SYNTH_TRACING_<FIELD>), the file and the defaults; validated.");
  m.def(
      "parse_config_text",
      [](const std::string& text, const std::string& format, const std::string& file_name) {
        detail::ConfigFormat f;
        if (format == "yaml") {
          f = detail::ConfigFormat::yaml;
        } else if (format == "toml") {
          f = detail::ConfigFormat::toml;
        } else if (format == "json") {
          f = detail::ConfigFormat::json;
        } else {
          throw py::value_error("config format must be yaml, toml or json (got \"" + format + "\")");
        }
        Value settings;
        try {
          py::gil_scoped_release release;
          settings = detail::parse_config(text, f, file_name);
        } catch (const Error& e) {
          throw py::value_error(e.what());
        }
        return from_value(settings);
      },
      py::arg("text"), py::arg("format"), py::arg("file_name"),
      "The mapping in a config file's text, read by the C++ config reader (YAML scalars come back as "
      "text, typed by the caller). ValueError naming `file_name` when it is not valid or not a mapping.");
}

void bind_pii(py::module_& m) {
  py::class_<PiiMasker>(m, "PiiMasker", "The C++ PII masker (RE2 detectors, Luhn-checked cards).")
      .def(py::init([](const std::vector<PatternTuple>& patterns, bool builtins) {
             return PiiMasker(to_patterns(patterns), builtins);
           }),
           py::arg("patterns") = std::vector<PatternTuple>{}, py::arg("builtins") = true)
      .def(
          "mask",
          [](const PiiMasker& self, const std::string& text) -> std::string {
            py::gil_scoped_release release;
            return self.mask(std::string_view(text));
          },
          "`text` with every detected item replaced by its token.")
      .def(
          "mask_value", [](const PiiMasker& self, py::handle obj) { return from_value(self.mask(to_value(obj))); },
          "A masked copy of a JSON-able value (every string inside it masked).")
      .def("pattern_names", &PiiMasker::pattern_names);
  m.def(
      "builtin_pii_patterns", [] { return from_patterns(PiiMasker::builtin_patterns()); },
      "The built-in detectors as (name, regex, replacement).");
}

void bind_model(py::module_& m) {
  m.def("set_serializer", &set_serializer, "Function turning non-JSON objects into JSON values.");
  m.def(
      "to_json_value", [](py::handle obj) { return from_value(to_value(obj)); },
      "`obj` as plain JSON values, converted by the C++ core.");
  m.def(
      "trace_to_json",
      [](py::handle trace, int indent) {
        SessionTrace t = to_trace(trace);
        py::gil_scoped_release release;
        return t.to_json(JsonFormat{indent});
      },
      py::arg("trace"), py::arg("indent") = -1,
      "A Python SessionTrace as the C++ library's JSON (the original's keys plus event_type).");
  m.def(
      "write_trace_file",
      [](py::handle trace, const std::filesystem::path& path, int indent) {
        SessionTrace t = to_trace(trace);
        py::gil_scoped_release release;
        t.write_file(path, JsonFormat{indent});
      },
      py::arg("trace"), py::arg("path"), py::arg("indent") = 2,
      "Writes a Python SessionTrace as JSON to `path` (through a temporary file).");
  m.def(
      "trace_from_json", [](const std::string& text) { return from_trace(SessionTrace::from_json(text)); },
      "Reads trace JSON (ours, the original's) into a dict for synth_tracing.abstractions.");
  m.def(
      "read_trace_file",
      [](const std::filesystem::path& path) {
        std::optional<SessionTrace> t;
        {
          py::gil_scoped_release release;
          t = SessionTrace::read_file(path);
        }
        return from_trace(*t);
      },
      "Reads a trace file into a dict for synth_tracing.abstractions.");
  m.def(
      "roundtrip_trace", [](py::handle trace) { return from_trace(to_trace(trace)); },
      "A Python SessionTrace through the C++ model and back, as a dict (what storage keeps).");
  m.def(
      "detect_provider",
      [](const std::string& model, const std::string& endpoint) { return detect_provider(model, endpoint); },
      py::arg("model"), py::arg("endpoint") = "");
  m.def(
      "format_timestamp_now", [] { return format_timestamp(now()); }, "The current time as ISO-8601 UTC text.");
}

void bind_cost(py::module_& m) {
  m.def(
      "calculate_cost",
      [](const std::string& model, std::int64_t prompt, std::int64_t completion) -> std::optional<double> {
        return calculate_cost(model, TokenUsage{.prompt_tokens = prompt, .completion_tokens = completion});
      },
      py::arg("model"), py::arg("prompt_tokens"), py::arg("completion_tokens"),
      "Cost in USD from the built-in pricing table, or None for an unknown model.");
  m.def(
      "model_price",
      [](const std::string& model) -> std::optional<std::pair<double, double>> {
        const ModelPrice* p = PricingTable::builtin().find(model);
        if (p == nullptr) return std::nullopt;
        return std::make_pair(p->input, p->output);
      },
      py::arg("model"),
      "(input, output) USD per million tokens from the built-in pricing table, or None for an unknown "
      "model: callers pricing many calls of one model look it up once.");
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "synth-tracing's C++ core (pybind11). Use the synth_tracing package, not this module.";
  m.attr("__version__") = synth::tracing::kVersion;  // the project's one version number
  // Invalid input reported by the C++ library (a bad configuration value, malformed JSON) is a
  // ValueError to Python callers; other library errors stay RuntimeError.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const TraceFormatError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const ValueTypeError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  bind_config(m);
  bind_pii(m);
  bind_model(m);
  bind_cost(m);
  bind_duckdb(m);
  bind_lm(m);
  bind_tracer(m);
}
