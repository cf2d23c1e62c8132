// CoreTracer: a C++ SessionTracer behind the Python SessionTracer. Python records sessions in its
// own objects; each finished session is converted once and handed to this tracer's outgoing path
// (SessionTracer::submit_finished_session): masking, pricing, the DuckDB sink, JSON files, the
// collector, OTLP export, all on the C++ background thread.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "bindings.hpp"
#include "convert.hpp"
#include "synth/tracing/duckdb.hpp"
#include "synth/tracing/tracer.hpp"

namespace py = pybind11;
using namespace synth::tracing;
using namespace synth::tracing::python;

namespace {

class CoreTracer {
 public:
  CoreTracer(const TracingConfig& config, const std::optional<std::filesystem::path>& duckdb_path)
      : tracer_(std::make_unique<SessionTracer>(config)) {
    const TracingConfig& c = tracer_->config();
    if (duckdb_path) {
      db_ = std::make_shared<DuckDBSink>(*duckdb_path);
      tracer_->add_sink(db_);
    }
    // Where a submitted session goes besides memory; without any, submitting is wasted work.
    outlets_ = tracer_->enabled() && (db_ != nullptr || !c.save_dir->empty() || !c.collector->empty() ||
                                      (c.mode != TracingMode::v2 && !c.otel_endpoint->empty()));
  }

  bool has_outlets() const noexcept { return tracer_ != nullptr && outlets_; }

  void submit(py::handle trace) {
    if (!has_outlets()) return;
    SessionTrace t = to_trace(trace);
    py::gil_scoped_release release;
    tracer_->submit_finished_session(std::move(t));
  }

  bool flush(double timeout_s) {
    if (!tracer_) return true;
    py::gil_scoped_release release;
    return tracer_->flush(to_ms(timeout_s));
  }

  /// Delivers what is queued within the tracer's shutdown_timeout_ms, then stops it. The DuckDB
  /// sink stays open (its store may still be read through duckdb()) until this object goes.
  void close() {
    std::unique_ptr<SessionTracer> gone;
    gone.swap(tracer_);
    py::gil_scoped_release release;
    gone.reset();
  }

  py::dict stats() const {
    py::dict d;
    if (!tracer_) return d;
    const TracerStats s = tracer_->stats();
    d["sessions_ended"] = s.sessions_ended;
    d["events_recorded"] = s.events_recorded;
    d["messages_recorded"] = s.messages_recorded;
    d["sessions_pending"] = s.sessions_pending;
    d["sessions_dropped"] = s.sessions_dropped;
    d["sessions_overflowed"] = s.sessions_overflowed;
    d["sessions_lost"] = s.sessions_lost;
    d["sink_errors"] = s.sink_errors;
    d["records_failed"] = s.records_failed;
    d["spans_ended"] = s.spans_ended;
    d["spans_exported"] = s.spans_exported;
    d["collector_sessions_sent"] = s.collector_sessions_sent;
    d["collector_sessions_in_fallback"] = s.collector_sessions_in_fallback;
    return d;
  }

  py::object get_session_trace(const std::string& id) const {
    if (!tracer_) return py::none();
    std::shared_ptr<const SessionTrace> t;
    {
      py::gil_scoped_release release;
      t = tracer_->get_session_trace(id);
    }
    return t ? py::object(from_trace(*t)) : py::none();
  }

  /// The DuckDB sink's store: its calls are serialized with the sink's writes.
  DuckDBTraceManager* duckdb() {
    if (!db_) return nullptr;
    return &db_->manager();
  }

 private:
  static std::chrono::milliseconds to_ms(double seconds) {
    if (!(seconds > 0)) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
  }

  std::unique_ptr<SessionTracer> tracer_;
  std::shared_ptr<DuckDBSink> db_;
  bool outlets_ = false;
};

}  // namespace

namespace synth::tracing::python {

void bind_tracer(py::module_& m) {
  py::class_<CoreTracer>(m, "CoreTracer",
                         "A C++ SessionTracer taking the Python SessionTracer's finished sessions to its sinks "
                         "(DuckDB, JSON files, the collector) and OTLP export, on its background thread.")
      .def(py::init([](const TracingConfig& config, std::optional<std::filesystem::path> duckdb_path) {
             py::gil_scoped_release release;
             return std::make_unique<CoreTracer>(config, duckdb_path);
           }),
           py::arg("config"), py::arg("duckdb_path") = py::none())
      .def_property_readonly("has_outlets", &CoreTracer::has_outlets,
                             "Whether submitted sessions go anywhere (a sink or span export).")
      .def("submit", &CoreTracer::submit, py::arg("trace"),
           "Converts a finished Python SessionTrace and queues it for the sinks; returns at once.")
      .def("flush", &CoreTracer::flush, py::arg("timeout") = 30.0,
           "Waits up to `timeout` seconds until every submitted session is stored; False on timeout.")
      .def("close", &CoreTracer::close,
           "Delivers what is queued within shutdown_timeout_ms, then stops the tracer (idempotent).")
      .def("stats", &CoreTracer::stats, "The C++ TracerStats as a dict.")
      .def("get_session_trace", &CoreTracer::get_session_trace, py::arg("session_id"),
           "A submitted session as the C++ tracer keeps it (masked, priced), as a dict; None when unknown.")
      .def("duckdb", &CoreTracer::duckdb, py::return_value_policy::reference_internal,
           "The DuckDB sink's CoreDuckDB (None without duckdb_path); valid while this tracer is open.");
}

}  // namespace synth::tracing::python
