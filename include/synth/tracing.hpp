// synth-tracing: records what AI agents do. Include this header for the whole public API.
#pragma once

#include "synth/tracing/collector.hpp"
#include "synth/tracing/config.hpp"
#include "synth/tracing/context.hpp"
#include "synth/tracing/cost.hpp"
#include "synth/tracing/error.hpp"
#include "synth/tracing/instrument.hpp"
#include "synth/tracing/json.hpp"
#include "synth/tracing/lm.hpp"
#include "synth/tracing/model.hpp"
#include "synth/tracing/otel.hpp"
#include "synth/tracing/pii.hpp"
#include "synth/tracing/sinks.hpp"
#include "synth/tracing/spill.hpp"
#include "synth/tracing/tracer.hpp"
#include "synth/tracing/version.hpp"
