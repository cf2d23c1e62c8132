#include <cmath>
#include <string>
#include <tuple>
#include <utility>

#include "synth/tracing/json.hpp"

namespace synth::tracing {

namespace {
const Value& null_value() noexcept {
  static const Value v;
  return v;
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

void Value::wrong_kind(Kind wanted) const {
  throw ValueTypeError("JSON value is " + std::string(kind_name(kind_)) + ", not " + std::string(kind_name(wanted)));
}

bool Value::as_bool() const {
  if (kind_ != Kind::boolean) wrong_kind(Kind::boolean);
  return data_.boolean;
}

std::int64_t Value::as_int() const {
  switch (kind_) {
    case Kind::integer:
      return data_.integer;
    case Kind::floating: {
      const double d = data_.floating;
      if (d == std::trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
        return static_cast<std::int64_t>(d);
      }
      throw ValueTypeError("JSON number " + std::to_string(d) + " is not an integer in int64 range");
    }
    case Kind::unsigned_integer:
      throw ValueTypeError("JSON integer " + std::to_string(data_.unsigned_integer) + " does not fit in int64");
    default:
      wrong_kind(Kind::integer);
  }
}

std::uint64_t Value::as_uint() const {
  switch (kind_) {
    case Kind::unsigned_integer:
      return data_.unsigned_integer;
    case Kind::integer: {
      const auto i = data_.integer;
      if (i >= 0) return static_cast<std::uint64_t>(i);
      throw ValueTypeError("JSON integer " + std::to_string(i) + " is negative");
    }
    case Kind::floating: {
      const double d = data_.floating;
      if (d == std::trunc(d) && d >= 0 && d < 18446744073709551616.0) return static_cast<std::uint64_t>(d);
      throw ValueTypeError("JSON number " + std::to_string(d) + " is not a non-negative integer");
    }
    default:
      wrong_kind(Kind::integer);
  }
}

double Value::as_double() const {
  switch (kind_) {
    case Kind::floating:
      return data_.floating;
    case Kind::integer:
      return static_cast<double>(data_.integer);
    case Kind::unsigned_integer:
      return static_cast<double>(data_.unsigned_integer);
    default:
      wrong_kind(Kind::floating);
  }
}

void Value::take_heap(Value& other) noexcept {
  switch (kind_) {
    case Kind::string:
      new (&data_.string) std::string(std::move(other.data_.string));
      break;
    case Kind::array:
      new (&data_.array) Array(std::move(other.data_.array));
      break;
    default:
      new (&data_.object) Object(std::move(other.data_.object));
  }
}

void Value::destroy_heap() noexcept {
  switch (kind_) {
    case Kind::string:
      data_.string.~basic_string();
      break;
    case Kind::array:
      data_.array.~Array();
      break;
    default:
      data_.object.~Object();
  }
}

// The kind is set once the alternative exists: a copy that throws (out of memory) leaves this
// value with nothing to free, and `other` untouched.
Value::Value(const Value& other) {
  switch (other.kind_) {
    case Kind::string:
      new (&data_.string) std::string(other.data_.string);
      break;
    case Kind::array:
      new (&data_.array) Array(other.data_.array);
      break;
    case Kind::object:
      new (&data_.object) Object(other.data_.object);
      break;
    default:
      data_.unsigned_integer = other.data_.unsigned_integer;
  }
  kind_ = other.kind_;
}

Value& Value::operator=(const Value& other) {
  if (this != &other) *this = Value(other);
  return *this;
}

Value& Value::operator[](std::string_view key) {
  if (is_null()) *this = Value(Object{});
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
  return kind_ == Kind::object ? find_member(data_.object, key) : nullptr;
}

Value* Value::find(std::string_view key) noexcept {
  return kind_ == Kind::object ? find_member(data_.object, key) : nullptr;
}

void Value::push_back(Value element) {
  if (is_null()) *this = Value(Array{});
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
      return a.data_.boolean == b.data_.boolean;
    case K::string:
      return a.data_.string == b.data_.string;
    case K::array:
      return a.data_.array == b.data_.array;
    case K::object: {
      const auto& x = a.data_.object;
      const auto& y = b.data_.object;
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
  if (is_list_) {
    const ValueInit& key = *list_.begin();
    return list_.size() == 2 && !key.is_list_ && (key.text_ != nullptr || key.value_.is_string());
  }
  return value_.is_array() && value_.size() == 2 && value_.as_array().front().is_string();
}

Value ValueInit::take() const {
  if (text_ != nullptr) return Value(text_);
  if (!is_list_) return std::move(value_);
  return value_from_list(list_, false);
}

void ValueInit::append_member(Value::Object& members) const {
  if (!is_list_) {
    auto& elements = value_.as_array();
    members.emplace_back(std::move(elements[0].as_string()), std::move(elements[1]));
    return;
  }
  // Straight from the brace list: no intermediate two-element array, no intermediate pair.
  const ValueInit& key = list_.begin()[0];
  const ValueInit& value = list_.begin()[1];
  const auto append = [&](Value&& v) {
    if (key.text_ != nullptr) {
      members.emplace_back(std::piecewise_construct, std::forward_as_tuple(key.text_),
                           std::forward_as_tuple(std::move(v)));
    } else {
      members.emplace_back(std::move(key.value_.as_string()), std::move(v));
    }
  };
  if (value.text_ != nullptr) {
    append(Value(value.text_));
  } else if (value.is_list_) {
    append(value_from_list(value.list_, false));
  } else {
    append(std::move(value.value_));
  }
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
  for (const auto& e : list) e.append_member(out);
  return Value(std::move(out));
}

}  // namespace detail
}  // namespace synth::tracing
