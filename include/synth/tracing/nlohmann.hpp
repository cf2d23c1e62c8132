// Opt-in nlohmann/json support for the traced_* wrappers: arguments and results whose type has an
// nlohmann `to_json` (found by argument-dependent lookup) are captured through it, as the JSON it
// writes. Include this header wherever such values are captured (in practice: next to
// <synth/tracing/instrument.hpp> in every file that wraps such calls), so that every translation
// unit captures a type the same way. Value itself converts to and from nlohmann::json without it.
#pragma once

#include <nlohmann/json.hpp>

#include "synth/tracing/instrument.hpp"

namespace synth::tracing {

namespace detail {
/// A type that does not convert to Value directly and has an nlohmann `to_json`.
template <class T>
concept NlohmannSerializable = !std::is_constructible_v<Value, const T&> && requires(nlohmann::json& j, const T& v) {
  to_json(j, v);
};
}  // namespace detail

/// Captures T through its nlohmann `to_json`.
template <detail::NlohmannSerializable T>
struct capture_traits<T> {
  static Value capture(const T& v) {
    nlohmann::json j;
    to_json(j, v);
    return Value(j);
  }
};

}  // namespace synth::tracing
