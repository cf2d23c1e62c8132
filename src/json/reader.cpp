// JsonReader: the per-thread parse workspace, documents and prefixes, and the typed reads
// (values, strings, numbers, timestamps). Its error reports are in reader_errors.cpp.
#include "json/reader.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

#include "diagnostics.hpp"
#include "json/writer.hpp"
#include "time.hpp"

namespace synth::tracing::detail {

namespace {
using simdjson::error_code;

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// simdjson 3.0.1's on-demand number parsing (its portable kernel, which the inline on-demand
// code uses in a build without -march flags) misreads numbers of more than 19 significant
// digits: 0.1000000000000000000000000000001 as 5.08e-13, 1.00000000000000000000000000000000000001e10
// as malformed. Such a decimal (`token`: its text and what follows it) is read with
// std::from_chars, exact for any length; nullopt for any other text, whose reading (and errors)
// stay simdjson's.
std::optional<double> long_number_value(std::string_view token) noexcept {
  // A decimal point and 20 digits take 21 characters: the shorter tokens (nearly all) are
  // simdjson's without a look.
  if (token.size() < 21) return std::nullopt;
  std::size_t i = 0;
  std::size_t digits = 0;
  const auto skip_digits = [&] {
    const std::size_t from = i;
    while (i < token.size() && is_digit(token[i])) ++i;
    digits += i - from;
    return i - from;
  };
  if (i < token.size() && token[i] == '-') ++i;
  const std::size_t integer_start = i;
  const std::size_t integer_digits = skip_digits();
  if (integer_digits == 0 || (integer_digits > 1 && token[integer_start] == '0')) return std::nullopt;
  bool decimal = false;
  if (i < token.size() && token[i] == '.') {
    ++i;
    decimal = true;
    if (skip_digits() == 0) return std::nullopt;
  }
  if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    decimal = true;
    if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
    const std::size_t significant = digits;
    if (skip_digits() == 0) return std::nullopt;
    digits = significant;
  }
  if (i < token.size()) {
    const char c = token[i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ',' && c != ']' && c != '}') return std::nullopt;
  }
  // Integers beyond 64 bits stay errors ("integers must fit in 64 bits").
  if (!decimal || digits <= 19) return std::nullopt;
  double d = 0;
  const auto [end, error] = std::from_chars(token.data(), token.data() + i, d);
  if (error != std::errc() || end != token.data() + i || !std::isfinite(d)) return std::nullopt;
  return d;
}

// A number as a double: simdjson's reading, or long_number_value's for long numbers.
error_code get_double(od::value v, double& d) {
  if (const auto long_value = long_number_value(v.raw_json_token())) {
    d = *long_value;
    return error_code::SUCCESS;
  }
  return v.get_double().get(d);
}
}  // namespace

struct ParseWorkspace {
  od::parser parser;
  std::unique_ptr<char[]> buffer;
  std::size_t buffer_size = 0;
  // Stacks of the members (elements) read so far of the objects (arrays) being read, each
  // container's own copied out at its end at its exact size: growing each container's vector
  // as it was read cost more allocations than the rest of reading a small document.
  std::vector<Value::Member> members;
  std::vector<Value> elements;
  bool busy = false;
};

namespace {
thread_local ParseWorkspace t_workspace;
// Larger workspaces are released after use rather than kept for the thread's lifetime.
constexpr std::size_t kRetainedWorkspaceBytes = 64u << 20;
constexpr std::size_t kRetainedStackEntries = 1u << 14;
// simdjson counts the root as depth 1 and (in builds with its development checks, i.e. without
// optimization) asserts that every container it enters lies below max_depth; our own limit in
// value() admits containers up to depth kMaxJsonDepth, so leave it one level of room.
constexpr std::size_t kParserDepth = static_cast<std::size_t>(kMaxJsonDepth) + 1;
}  // namespace

WorkspaceLease::WorkspaceLease() {
  if (t_workspace.busy) {
    own_ = std::make_unique<ParseWorkspace>();
    workspace_ = own_.get();
  } else {
    workspace_ = &t_workspace;
  }
  workspace_->busy = true;
}

WorkspaceLease::~WorkspaceLease() {
  ParseWorkspace& ws = *workspace_;
  ws.busy = false;
  // Left over by a reading that threw; and a stack grown for a very wide container is not kept.
  ws.members.clear();
  ws.elements.clear();
  if (ws.members.capacity() > kRetainedStackEntries) ws.members = {};
  if (ws.elements.capacity() > kRetainedStackEntries) ws.elements = {};
  if (ws.buffer_size > kRetainedWorkspaceBytes) {
    ws.buffer.reset();
    ws.buffer_size = 0;
    ws.parser = od::parser();
  }
}

JsonReader::JsonReader(std::string_view text, std::string_view source) : source_(source), input_(text) {}

void JsonReader::copy_input() {
  if (copied_) return;
  ParseWorkspace& ws = workspace_.get();
  const std::size_t needed = input_.size() + simdjson::SIMDJSON_PADDING;
  if (ws.buffer_size < needed) {
    ws.buffer = std::make_unique<char[]>(needed);
    ws.buffer_size = needed;
  }
  std::memcpy(ws.buffer.get(), input_.data(), input_.size());
  std::memset(ws.buffer.get() + input_.size(), 0, simdjson::SIMDJSON_PADDING);
  text_ = std::string_view(ws.buffer.get(), input_.size());
  copied_ = true;
}

simdjson::error_code JsonReader::try_start(std::size_t length, std::size_t begin) {
  copy_input();
  ParseWorkspace& ws = workspace_.get();
  auto error = simdjson::SUCCESS;
  // Grow only: allocate() with another size would reallocate every time.
  if (ws.parser.capacity() < length || ws.parser.max_depth() != kParserDepth) {
    error = ws.parser.allocate(std::max(length, ws.parser.capacity()), kParserDepth);
  }
  if (!error) error = ws.parser.iterate(ws.buffer.get() + begin, length, ws.buffer_size - begin).get(doc_);
  started_ = !error;
  return error;
}

void JsonReader::start(std::size_t length) {
  if (const auto error = try_start(length)) fail_simdjson(error, false);
}

bool JsonReader::start_prefix(std::size_t length) {
  copy_input();
  if (length >= text_.size()) return false;
  char* const at = workspace_.get().buffer.get() + length;
  prefix_end_ = length;
  prefix_byte_ = *at;
  *at = '}';
  in_prefix_ = true;
  if (try_start(length + 1) != simdjson::SUCCESS) {
    end_prefix(false);
    return false;
  }
  return true;
}

bool JsonReader::start_rest() {
  if (!in_prefix_) return false;
  workspace_.get().buffer.get()[prefix_end_] = '{';
  // A new document reuses (or reallocates) simdjson's string buffer: the remembered timestamp
  // text would show the rest's strings (found by the trace_json fuzzer), and path segments of
  // escaped keys would dangle.
  forget_strings();
  path_.clear();
  depth_ = 0;
  return try_start(text_.size() - prefix_end_, prefix_end_) == simdjson::SUCCESS;
}

void JsonReader::end_prefix(bool keep_reports) {
  if (!in_prefix_) return;
  workspace_.get().buffer.get()[prefix_end_] = prefix_byte_;
  in_prefix_ = false;
  started_ = false;
  path_.clear();
  depth_ = 0;
  forget_strings();
  if (keep_reports) {
    for (const std::string& message : held_reports_) detail::report(message);
  }
  held_reports_.clear();
}

void JsonReader::forget_strings() noexcept { timestamps_.forget(); }

void JsonReader::report(std::string message) {
  if (in_prefix_) {
    held_reports_.push_back(std::move(message));
  } else {
    detail::report(message);
  }
}

od::value JsonReader::object_root() {
  if (doc_.type() != od::json_type::object) {
    fail_at(text_.data(), "expected a JSON object at the top level, found " + found_document());
  }
  return doc_.get_value();
}

Value JsonReader::read_value() {
  if (!started_) start(input_.size());
  try {
    Value result;
    switch (doc_.type()) {
      case od::json_type::object:
      case od::json_type::array:
        result = value(doc_.get_value());
        break;
      case od::json_type::number: {
        std::string_view token;
        if (doc_.raw_json_token().get(token) == error_code::SUCCESS) {
          if (const auto long_value = long_number_value(token)) {
            result = *long_value;
            // Consumes the number (whatever simdjson makes of it) before finish().
            double ignored = 0;
            if (doc_.get_double().get(ignored) != error_code::SUCCESS) ignored = 0;
            break;
          }
        }
        switch (doc_.get_number_type()) {
          case od::number_type::signed_integer:
            result = static_cast<std::int64_t>(doc_.get_int64());
            break;
          case od::number_type::unsigned_integer:
            result = static_cast<std::uint64_t>(doc_.get_uint64());
            break;
          default:
            result = static_cast<double>(doc_.get_double());
        }
        break;
      }
      case od::json_type::string:
        result = std::string(std::string_view(doc_.get_string()));
        break;
      case od::json_type::boolean:
        result = static_cast<bool>(doc_.get_bool());
        break;
      case od::json_type::null:
        if (!doc_.is_null()) fail_at(text_.data(), "invalid literal (expected null)");
        break;
    }
    finish();
    return result;
  } catch (const simdjson::simdjson_error& e) {
    fail_simdjson(e.error());
  }
}

const char* JsonReader::position() {
  const char* where = nullptr;
  if (doc_.current_location().get(where) != error_code::SUCCESS) return text_.data() + text_.size();
  return where;
}

void JsonReader::finish() {
  // Once the root is consumed, any location still inside the document is trailing content.
  const char* where = nullptr;
  if (doc_.current_location().get(where) == error_code::SUCCESS) {
    fail_at(where, "unexpected content after the JSON value");
  }
}

Value JsonReader::value(od::value v) {
  // depth_ counts the enclosing containers, so it is the depth within the whole
  // document: a value nested inside a trace must also stay writable (JsonWriter's limit).
  if (depth_ >= static_cast<std::size_t>(kMaxJsonDepth)) {
    fail(v, "JSON nested deeper than 1024 levels");
  }
  switch (v.type()) {
    case od::json_type::object: {
      std::vector<Value::Member>& stack = workspace_.get().members;
      const std::size_t first = stack.size();
      for (auto field : v.get_object()) {
        // Unescaped keys stay valid in the parser's buffer for the whole document.
        const std::string_view key = this->key(field);
        Path p(*this, key);
        Value member = value(field.value());
        stack.emplace_back(std::string(key), std::move(member));
      }
      Value::Object members(std::make_move_iterator(stack.begin() + static_cast<std::ptrdiff_t>(first)),
                            std::make_move_iterator(stack.end()));
      stack.resize(first);
      return Value(std::move(members));
    }
    case od::json_type::array: {
      std::vector<Value>& stack = workspace_.get().elements;
      const std::size_t first = stack.size();
      std::size_t i = 0;
      for (auto element : v.get_array()) {
        Path p(*this, i++);
        Value e = value(element.value());
        stack.push_back(std::move(e));
      }
      Value::Array elements(std::make_move_iterator(stack.begin() + static_cast<std::ptrdiff_t>(first)),
                            std::make_move_iterator(stack.end()));
      stack.resize(first);
      return Value(std::move(elements));
    }
    default:
      return scalar(v);
  }
}

// Kept out of value() so that its frame, one per nesting level, stays small (deep documents
// must not exhaust a thread's stack, even in sanitizer builds with large frames).
Value JsonReader::scalar(od::value v) {
  switch (v.type()) {
    case od::json_type::number: {
      if (const auto long_value = long_number_value(v.raw_json_token())) return Value(*long_value);
      od::number_type type;
      if (v.get_number_type().get(type) != error_code::SUCCESS) {
        fail(v, "malformed number");
      }
      switch (type) {
        case od::number_type::signed_integer: {
          std::int64_t i;
          if (v.get_int64().get(i) != error_code::SUCCESS) fail(v, "malformed number");
          return Value(i);
        }
        case od::number_type::unsigned_integer: {
          std::uint64_t u;
          if (v.get_uint64().get(u) != error_code::SUCCESS) {
            fail(v, "integer does not fit in 64 bits");
          }
          return Value(u);
        }
        default: {
          double d;
          if (get_double(v, d) != error_code::SUCCESS) {
            fail(v, "number out of range or malformed (doubles must be finite)");
          }
          return Value(d);
        }
      }
    }
    case od::json_type::string: {
      std::string_view s;
      if (v.get_string().get(s) != error_code::SUCCESS) fail(v, "malformed string");
      return Value(std::string(s));
    }
    case od::json_type::boolean: {
      bool b;
      if (v.get_bool().get(b) != error_code::SUCCESS) fail(v, "invalid literal (expected true or false)");
      return Value(b);
    }
    case od::json_type::null:
      if (!v.is_null()) fail(v, "invalid literal (expected null)");
      return Value();
    case od::json_type::object:
    case od::json_type::array:
      break;
  }
  fail(v, "unexpected JSON token");
}

std::string JsonReader::string(od::value v) { return std::string(string_in_place(v)); }

std::string_view JsonReader::string_in_place(od::value v) {
  std::string_view s;
  if (v.type() != od::json_type::string) fail(v, "expected a string, found " + found(v));
  if (v.get_string().get(s) != error_code::SUCCESS) fail(v, "malformed string");
  return s;
}

std::optional<std::string> JsonReader::optional_string(od::value v) {
  if (const auto s = optional_string_in_place(v)) return std::string(*s);
  return std::nullopt;
}

std::optional<std::string_view> JsonReader::optional_string_in_place(od::value v) {
  if (is_null(v)) return std::nullopt;
  if (v.type() != od::json_type::string) fail(v, "expected a string or null, found " + found(v));
  return string_in_place(v);
}

std::int64_t JsonReader::integer(od::value v) {
  if (v.type() == od::json_type::number) {
    std::int64_t i;
    if (v.get_int64().get(i) == error_code::SUCCESS) return i;
    double d;
    if (get_double(v, d) == error_code::SUCCESS && d == std::trunc(d) && d >= -9223372036854775808.0 &&
        d < 9223372036854775808.0) {
      return static_cast<std::int64_t>(d);
    }
    fail(v, "expected an integer in 64-bit range, found " + token_text(v));
  }
  fail(v, "expected an integer, found " + found(v));
}

std::optional<std::int64_t> JsonReader::optional_integer(od::value v) {
  if (is_null(v)) return std::nullopt;
  return integer(v);
}

std::optional<double> JsonReader::optional_number(od::value v) {
  if (is_null(v)) return std::nullopt;
  if (v.type() != od::json_type::number) fail(v, "expected a number or null, found " + found(v));
  double d;
  if (get_double(v, d) != error_code::SUCCESS) {
    fail(v, "number out of range or malformed (doubles must be finite)");
  }
  return d;
}

std::optional<bool> JsonReader::optional_boolean(od::value v) {
  if (is_null(v)) return std::nullopt;
  bool b;
  if (v.type() != od::json_type::boolean) fail(v, "expected true, false or null, found " + found(v));
  if (v.get_bool().get(b) != error_code::SUCCESS) fail(v, "invalid literal (expected true or false)");
  return b;
}

Timestamp JsonReader::timestamp(od::value v) {
  switch (v.type()) {
    case od::json_type::null:
      if (!v.is_null()) fail(v, "invalid literal (expected null)");
      return Timestamp{};
    case od::json_type::string: {
      std::string_view s;
      if (v.get_string().get(s) != error_code::SUCCESS) fail(v, "malformed string");
      if (const auto t = timestamps_.parse(s)) return *t;
      fail(v, "invalid timestamp \"" + std::string(s) + "\" (expected ISO-8601 such as 2025-01-01T10:00:00.000000Z)");
    }
    case od::json_type::number: {
      // Epoch seconds, as some Python callers pass time.time().
      double seconds;
      std::optional<Timestamp> t;
      if (get_double(v, seconds) != error_code::SUCCESS || !(t = timestamp_from_epoch_seconds(seconds))) {
        fail(v, std::string("epoch-seconds timestamp out of range (") + kTimestampRange + ")");
      }
      return *t;
    }
    default:
      fail(v, "expected a timestamp (ISO-8601 string, epoch seconds or null), found " + found(v));
  }
}

bool JsonReader::is_null(od::value v) {
  if (v.type() != od::json_type::null) return false;
  if (!v.is_null()) fail(v, "invalid literal (expected null)");
  return true;
}

od::object JsonReader::object(od::value v) {
  if (v.type() != od::json_type::object) fail(v, "expected an object, found " + found(v));
  return v.get_object();
}

od::array JsonReader::array(od::value v) {
  if (v.type() != od::json_type::array) fail(v, "expected an array, found " + found(v));
  return v.get_array();
}
}  // namespace synth::tracing::detail

namespace synth::tracing {

Value Value::parse(std::string_view text, std::string_view source) {
  detail::JsonReader reader(text, source);
  return reader.read_value();
}

}  // namespace synth::tracing
