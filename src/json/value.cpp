#include <cmath>
#include <string>

#include "synth/tracing/json.hpp"

namespace synth::tracing {

namespace {
const Value& null_value() noexcept {
  static const Value v;
  return v;
}

[[noreturn]] void wrong_kind(std::string_view wanted, Value::Kind actual) {
  throw ValueTypeError("JSON value is " + std::string(kind_name(actual)) + ", not " + std::string(wanted));
}

template <class Members>
auto* find_member(Members& members, std::string_view key) noexcept {
  for (auto& m : members) {
    if (m.first == key) return &m.second;
  }
  return static_cast<decltype(&members.front().second)>(nullptr);
}

bool numbers_equal(const Value& a, const Value& b) noexcept {
  using K = Value::Kind;
  const K ka = a.kind();
  const K kb = b.kind();
  if (ka == K::floating || kb == K::floating) {
    if (ka != K::floating || kb != K::floating) {
      // An integer equals a double only when the double holds exactly that integer.
      const Value& d = ka == K::floating ? a : b;
      const Value& i = ka == K::floating ? b : a;
      const double x = d.as_double();
      if (!std::isfinite(x) || x != std::trunc(x)) return false;
      if (i.kind() == K::integer) {
        return x >= -9223372036854775808.0 && x < 9223372036854775808.0 && static_cast<std::int64_t>(x) == i.as_int();
      }
      return x >= 0 && x < 18446744073709551616.0 && static_cast<std::uint64_t>(x) == i.as_uint();
    }
    return a.as_double() == b.as_double();
  }
  if (ka == kb) return ka == K::integer ? a.as_int() == b.as_int() : a.as_uint() == b.as_uint();
  return false;  // an int64 value and a uint64 value above INT64_MAX never coincide
}
}  // namespace

std::string_view kind_name(Value::Kind kind) noexcept {
  switch (kind) {
    case Value::Kind::null:
      return "null";
    case Value::Kind::boolean:
      return "a boolean";
    case Value::Kind::integer:
    case Value::Kind::unsigned_integer:
      return "an integer";
    case Value::Kind::floating:
      return "a number";
    case Value::Kind::string:
      return "a string";
    case Value::Kind::array:
      return "an array";
    case Value::Kind::object:
      return "an object";
  }
  return "unknown";
}

bool Value::as_bool() const {
  if (const bool* b = std::get_if<bool>(&data_)) return *b;
  wrong_kind("a boolean", kind());
}

std::int64_t Value::as_int() const {
  switch (kind()) {
    case Kind::integer:
      return std::get<std::int64_t>(data_);
    case Kind::floating: {
      const double d = std::get<double>(data_);
      if (d == std::trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
        return static_cast<std::int64_t>(d);
      }
      throw ValueTypeError("JSON number " + std::to_string(d) + " is not an integer in int64 range");
    }
    case Kind::unsigned_integer:
      throw ValueTypeError("JSON integer " + std::to_string(std::get<std::uint64_t>(data_)) +
                           " does not fit in int64");
    default:
      wrong_kind("an integer", kind());
  }
}

std::uint64_t Value::as_uint() const {
  switch (kind()) {
    case Kind::unsigned_integer:
      return std::get<std::uint64_t>(data_);
    case Kind::integer: {
      const auto i = std::get<std::int64_t>(data_);
      if (i >= 0) return static_cast<std::uint64_t>(i);
      throw ValueTypeError("JSON integer " + std::to_string(i) + " is negative");
    }
    case Kind::floating: {
      const double d = std::get<double>(data_);
      if (d == std::trunc(d) && d >= 0 && d < 18446744073709551616.0) return static_cast<std::uint64_t>(d);
      throw ValueTypeError("JSON number " + std::to_string(d) + " is not a non-negative integer");
    }
    default:
      wrong_kind("an integer", kind());
  }
}

double Value::as_double() const {
  switch (kind()) {
    case Kind::floating:
      return std::get<double>(data_);
    case Kind::integer:
      return static_cast<double>(std::get<std::int64_t>(data_));
    case Kind::unsigned_integer:
      return static_cast<double>(std::get<std::uint64_t>(data_));
    default:
      wrong_kind("a number", kind());
  }
}

const std::string& Value::as_string() const {
  if (const auto* s = std::get_if<std::string>(&data_)) return *s;
  wrong_kind("a string", kind());
}
std::string& Value::as_string() {
  if (auto* s = std::get_if<std::string>(&data_)) return *s;
  wrong_kind("a string", kind());
}
const Value::Array& Value::as_array() const {
  if (const auto* a = std::get_if<Array>(&data_)) return *a;
  wrong_kind("an array", kind());
}
Value::Array& Value::as_array() {
  if (auto* a = std::get_if<Array>(&data_)) return *a;
  wrong_kind("an array", kind());
}
const Value::Object& Value::as_object() const {
  if (const auto* o = std::get_if<Object>(&data_)) return *o;
  wrong_kind("an object", kind());
}
Value::Object& Value::as_object() {
  if (auto* o = std::get_if<Object>(&data_)) return *o;
  wrong_kind("an object", kind());
}

std::size_t Value::size() const noexcept {
  if (const auto* a = std::get_if<Array>(&data_)) return a->size();
  if (const auto* o = std::get_if<Object>(&data_)) return o->size();
  return 0;
}

// The alternative is constructed before the variant takes its index: a copy that throws
// leaves no variant behind to destroy.
Value::Value(const Value& other)
    : data_(std::visit([](const auto& x) { return Data(std::in_place_type<std::decay_t<decltype(x)>>, x); },
                       other.data_)) {}

Value& Value::operator=(const Value& other) {
  if (this != &other) {
    Value copy(other);
    data_ = std::move(copy.data_);
  }
  return *this;
}

Value& Value::operator[](std::string_view key) {
  if (is_null()) data_ = Object{};
  Object& members = as_object();
  if (Value* v = find_member(members, key)) return *v;
  return members.emplace_back(std::string(key), Value()).second;
}

const Value& Value::operator[](std::string_view key) const noexcept {
  const Value* v = find(key);
  return v ? *v : null_value();
}

Value& Value::at_index(std::size_t index) {
  Array& a = as_array();
  if (index >= a.size()) {
    throw ValueTypeError("JSON array index " + std::to_string(index) + " out of range (size " +
                         std::to_string(a.size()) + ")");
  }
  return a[index];
}

const Value& Value::at_index(std::size_t index) const {
  const Array& a = as_array();
  if (index >= a.size()) {
    throw ValueTypeError("JSON array index " + std::to_string(index) + " out of range (size " +
                         std::to_string(a.size()) + ")");
  }
  return a[index];
}

const Value* Value::find(std::string_view key) const noexcept {
  const auto* o = std::get_if<Object>(&data_);
  return o ? find_member(*o, key) : nullptr;
}

Value* Value::find(std::string_view key) noexcept {
  auto* o = std::get_if<Object>(&data_);
  return o ? find_member(*o, key) : nullptr;
}

void Value::push_back(Value element) {
  if (is_null()) data_ = Array{};
  as_array().push_back(std::move(element));
}

void Value::set(std::string_view key, Value value) { (*this)[key] = std::move(value); }

bool operator==(const Value& a, const Value& b) noexcept {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) return numbers_equal(a, b);
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::null:
      return true;
    case K::boolean:
      return std::get<bool>(a.data_) == std::get<bool>(b.data_);
    case K::string:
      return std::get<std::string>(a.data_) == std::get<std::string>(b.data_);
    case K::array:
      return std::get<Value::Array>(a.data_) == std::get<Value::Array>(b.data_);
    case K::object: {
      const auto& x = std::get<Value::Object>(a.data_);
      const auto& y = std::get<Value::Object>(b.data_);
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        // Same order is the common case; otherwise look the key up.
        if (x[i].first == y[i].first) {
          if (!(x[i].second == y[i].second)) return false;
          continue;
        }
        const Value* other = b.find(x[i].first);
        if (other == nullptr || !(x[i].second == *other)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

namespace detail {

bool ValueInit::is_pair() const noexcept {
  if (is_list_) return list_.size() == 2 && !list_.begin()->is_list_ && list_.begin()->value_.is_string();
  return value_.is_array() && value_.size() == 2 && value_.as_array().front().is_string();
}

Value ValueInit::take() const {
  if (!is_list_) return std::move(value_);
  return value_from_list(list_, false);
}

Value::Member ValueInit::take_member() const {
  if (is_list_) {
    // Straight from the brace list: no intermediate two-element array.
    const ValueInit* pair = list_.begin();
    return {std::move(pair[0].value_.as_string()), pair[1].take()};
  }
  auto& elements = value_.as_array();
  return {std::move(elements[0].as_string()), std::move(elements[1])};
}

Value value_from_list(std::initializer_list<ValueInit> list, bool force_object) {
  bool is_object = list.size() > 0 || force_object;
  for (const auto& e : list) {
    if (!e.is_pair()) {
      is_object = false;
      break;
    }
  }
  if (force_object && !is_object) {
    throw ValueTypeError("Value::object() takes [key, value] pairs with string keys");
  }
  if (!is_object) {
    Value::Array out;
    out.reserve(list.size());
    for (const auto& e : list) out.push_back(e.take());
    return Value(std::move(out));
  }
  Value::Object out;
  out.reserve(list.size());
  for (const auto& e : list) out.push_back(e.take_member());
  return Value(std::move(out));
}

}  // namespace detail
}  // namespace synth::tracing
