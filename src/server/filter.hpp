// Internal: the filter expressions of the sessions list, compiled to parameterised SQL over
// session_stats (alias s). Values are always bound, never spliced into the SQL text.
//
//     reward > 0.5 and model == "gpt-4o" and errors == 0
//     (terminated or steps >= 100) and not experiment == 'baseline'
//     system contains "env" and created_at >= "2025-01-01"
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "synth/tracing/error.hpp"
#include "synth/tracing/json.hpp"

namespace synth::tracing::server {

/// An expression that cannot be compiled; what() names the position (1-based character) and
/// the problem.
class FilterError : public Error {
 public:
  using Error::Error;
};

/// A SQL condition and the values of its `?` placeholders, in order.
struct SqlCondition {
  std::string sql;
  std::vector<Value> params;
};

/// The fields an expression may use, with their kinds, for messages and documentation:
/// "reward (number), model (list of names), ...".
std::string filter_fields();

/// Compiles `expression`. Grammar: `or` of `and` of [not] terms; a term is `( expression )`, a
/// boolean field alone (terminated), or `field op value` with op one of == != < <= > >= (a list
/// field: == and != test membership), `field contains "text"` (a list field: any member), or
/// `field in (v1, v2, ...)`. Values: numbers, 'text' or "text" (\ escapes the quote), true,
/// false, null; times as ISO-8601 text. Keywords in any case. Throws FilterError.
SqlCondition compile_filter(std::string_view expression);

}  // namespace synth::tracing::server
