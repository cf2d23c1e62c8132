// Internal: reading OTLP attribute values, shared by the mapping of spans to events
// (otlp_events.cpp) and of their attributes to messages (otlp_messages.cpp).
#pragma once

#include <string_view>

#include "server/otlp_map.hpp"
#include "synth/tracing/json.hpp"

namespace synth::tracing::server::otlp {

/// A string attribute's text, without a copy; empty for anything else.
inline std::string_view text_of(const Value* v) {
  return v != nullptr && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

/// A JSON-looking string parsed (SDKs send structured values as JSON text); anything else as is.
Value parsed(const Value& v);

/// `gen_ai.system_instructions` as a message {role: system, parts, content}; null without them.
Value system_message(const KnownAttributes& known);

}  // namespace synth::tracing::server::otlp
