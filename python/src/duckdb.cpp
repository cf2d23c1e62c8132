// The C++ DuckDB trace store for synth_tracing.duckdb.manager. Queries release the GIL.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "synth/tracing/duckdb.hpp"

namespace py = pybind11;
using namespace synth::tracing;
using namespace synth::tracing::python;

namespace {

// (columns, types, rows) with rows as lists of plain Python values.
py::tuple to_py(const QueryResult& r) {
  py::list rows;
  for (const auto& row : r.rows) {
    py::list out;
    for (const auto& v : row) out.append(from_value(v));
    rows.append(std::move(out));
  }
  return py::make_tuple(r.columns, r.types, rows);
}

std::optional<Timestamp> to_time(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  auto t = parse_timestamp(*text);
  if (!t) throw py::value_error("not an ISO-8601 date or time: \"" + *text + "\" (use e.g. 2025-01-31T12:00:00)");
  return t;
}

}  // namespace

namespace synth::tracing::python {

void bind_duckdb(py::module_& m) {
  static py::exception<StorageError> storage_error(m, "StorageError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StorageError& e) {
      storage_error(e.what());
    }
  });

  using M = DuckDBTraceManager;
  py::class_<M>(m, "CoreDuckDB", "The C++ DuckDBTraceManager.")
      .def(py::init([](const std::filesystem::path& path, bool read_only) {
             py::gil_scoped_release release;
             return M(path, DuckDBOptions{.read_only = read_only});
           }),
           py::arg("path"), py::arg("read_only") = false)
      .def(
          "insert_trace",
          [](M& self, py::handle trace) {
            SessionTrace t = to_trace(trace);
            py::gil_scoped_release release;
            return self.insert_trace(t);
          },
          "Inserts a Python SessionTrace; False when its id was already stored (skipped).")
      .def(
          "insert_traces",
          [](M& self, py::iterable traces, std::size_t batch_size) {
            std::vector<SessionTrace> ts;
            for (py::handle t : traces) ts.push_back(to_trace(t));
            py::gil_scoped_release release;
            InsertSummary s = self.insert_traces(ts, batch_size);
            return std::make_tuple(s.inserted, s.skipped);
          },
          py::arg("traces"), py::arg("batch_size") = 1000, "(inserted, skipped) counts.")
      .def("load_trace",
           [](M& self, const std::string& id) -> py::object {
             std::optional<SessionTrace> t;
             {
               py::gil_scoped_release release;
               t = self.load_trace(id);
             }
             if (!t) return py::none();
             return from_trace(*t);
           })
      .def("session_ids", &M::session_ids, py::call_guard<py::gil_scoped_release>())
      .def(
          "query",
          [](M& self, const std::string& sql, py::object params) {
            std::vector<Value> values;
            if (!params.is_none()) {
              for (py::handle p : params) values.push_back(to_value(p));
            }
            QueryResult r;
            {
              py::gil_scoped_release release;
              r = self.query(sql, values);
            }
            return to_py(r);
          },
          py::arg("sql"), py::arg("params") = py::none())
      .def(
          "query_messages",
          [](M& self, const std::vector<std::string>& ids, const std::vector<std::string>& types) {
            QueryResult r;
            {
              py::gil_scoped_release release;
              r = self.query_messages(ids, types);
            }
            return to_py(r);
          },
          py::arg("session_ids") = std::vector<std::string>{}, py::arg("message_types") = std::vector<std::string>{})
      .def(
          "get_model_usage",
          [](M& self, std::optional<std::string> start, std::optional<std::string> end) {
            auto s = to_time(start);
            auto e = to_time(end);
            QueryResult r;
            {
              py::gil_scoped_release release;
              r = self.get_model_usage(s, e);
            }
            return to_py(r);
          },
          py::arg("start") = py::none(), py::arg("end") = py::none())
      .def("get_expensive_calls",
           [](M& self, double threshold) {
             QueryResult r;
             {
               py::gil_scoped_release release;
               r = self.get_expensive_calls(threshold);
             }
             return to_py(r);
           })
      .def(
          "get_session_summary",
          [](M& self, std::optional<std::string> id) {
            QueryResult r;
            {
              py::gil_scoped_release release;
              r = id ? self.get_session_summary(std::string_view(*id)) : self.get_session_summary();
            }
            return to_py(r);
          },
          py::arg("session_id") = py::none())
      .def("export_to_parquet", &M::export_to_parquet, py::call_guard<py::gil_scoped_release>())
      .def("create_system", &M::create_system, py::arg("system_id"), py::arg("name"), py::arg("description") = "")
      .def("create_system_version", &M::create_system_version, py::arg("version_id"), py::arg("system_id"),
           py::arg("branch") = "", py::arg("commit") = "", py::arg("description") = "")
      .def("create_experiment", &M::create_experiment, py::arg("experiment_id"), py::arg("name"),
           py::arg("description") = "", py::arg("systems") = std::vector<std::pair<std::string, std::string>>{})
      .def("link_session_to_experiment", &M::link_session_to_experiment)
      .def("get_experiment_sessions", [](M& self, const std::string& id) { return to_py(self.get_experiment_sessions(id)); })
      .def("get_experiments_by_system_version",
           [](M& self, const std::string& id) { return to_py(self.get_experiments_by_system_version(id)); });
}

}  // namespace synth::tracing::python
