// The parts of the _core module defined in their own files.
#pragma once

#include <pybind11/pybind11.h>

namespace synth::tracing::python {

/// DuckDBTraceManager and StorageError (duckdb.cpp).
void bind_duckdb(pybind11::module_& m);
/// LMClient, the C++ LM client (lm.cpp).
void bind_lm(pybind11::module_& m);
/// CoreTracer, the C++ SessionTracer behind the Python one (tracer.cpp).
void bind_tracer(pybind11::module_& m);

}  // namespace synth::tracing::python

using synth::tracing::python::bind_duckdb;
using synth::tracing::python::bind_lm;
using synth::tracing::python::bind_tracer;
