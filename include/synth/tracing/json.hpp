// synth::tracing::Value: the JSON value held by every free-form field of a trace (states,
// metadata, payloads, message content), with nlohmann::json-style literals and conversions.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "synth/tracing/error.hpp"

namespace synth::tracing {

class Value;

namespace detail {
class ValueInit;

/// Matches nlohmann::basic_json specialisations without including nlohmann's header.
template <class J>
concept NlohmannJson = requires(const J& j) {
  typename J::value_t;
  typename J::object_t;
  typename J::array_t;
  typename J::number_integer_t;
  { j.is_discarded() } -> std::convertible_to<bool>;
};

template <class T>
concept CharLike = std::same_as<T, char> || std::same_as<T, signed char> || std::same_as<T, unsigned char> ||
                   std::same_as<T, wchar_t> || std::same_as<T, char8_t> || std::same_as<T, char16_t> ||
                   std::same_as<T, char32_t>;
}  // namespace detail

/// Options for writing JSON text.
struct JsonFormat {
  /// Spaces per nesting level; negative writes everything on one line.
  int indent = -1;
};

/// A JSON value. Objects keep their members in insertion order (as Python dicts do) and may be
/// built like nlohmann::json literals:
///
///     Value state = {{"action", "move_north"}, {"reward", 1.5}, {"tags", {"a", "b"}}};
///
/// Small values live inline: a two-member object of short strings costs one allocation.
/// Integers keep their signedness, doubles keep their exact value through JSON text.
class Value {
 public:
  enum class Kind : std::uint8_t { null, boolean, integer, unsigned_integer, floating, string, array, object };
  using Array = std::vector<Value>;
  using Member = std::pair<std::string, Value>;
  using Object = std::vector<Member>;

  Value() noexcept = default;
  /// A deep copy. Out of memory throws std::bad_alloc and leaves nothing half-made (libstdc++ 12's
  /// std::variant copy would destroy an alternative it never constructed).
  Value(const Value& other);
  Value(Value&&) noexcept = default;
  Value& operator=(const Value& other);
  Value& operator=(Value&&) noexcept = default;
  ~Value() = default;
  Value(std::nullptr_t) noexcept {}
  template <std::same_as<bool> B>  // a template so that pointers do not silently become booleans
  Value(B b) noexcept : data_(static_cast<bool>(b)) {}
  template <std::integral I>
    requires(!std::same_as<I, bool> && !detail::CharLike<I>)
  Value(I i) noexcept {
    if constexpr (std::is_signed_v<I>) {
      data_ = static_cast<std::int64_t>(i);
    } else if (static_cast<std::uint64_t>(i) <= static_cast<std::uint64_t>(INT64_MAX)) {
      data_ = static_cast<std::int64_t>(i);
    } else {
      data_ = static_cast<std::uint64_t>(i);
    }
  }
  template <std::floating_point F>
  Value(F f) noexcept : data_(static_cast<double>(f)) {}
  Value(const char* s) : data_(std::string(s)) {}
  Value(std::string s) noexcept : data_(std::move(s)) {}
  Value(std::string_view s) : data_(std::string(s)) {}
  Value(Array a) noexcept : data_(std::move(a)) {}
  Value(Object o) noexcept : data_(std::move(o)) {}
  /// nlohmann-style literal: a list of [string, value] pairs is an object, anything else an array.
  Value(std::initializer_list<detail::ValueInit> init);
  /// Converts an nlohmann::json (or ordered_json) value.
  template <detail::NlohmannJson J>
  Value(const J& j);

  /// An empty array, or one holding the given elements.
  static Value array(std::initializer_list<detail::ValueInit> elements = {});
  /// An empty object; with arguments, the given [key, value] pairs.
  static Value object(std::initializer_list<detail::ValueInit> members = {});

  /// Parses JSON text. Throws TraceFormatError naming `source` and the position on bad input.
  static Value parse(std::string_view text, std::string_view source = "<string>");
  /// Writes JSON text. Non-finite doubles become null; invalid UTF-8 becomes U+FFFD.
  std::string dump(JsonFormat format = {}) const;

  Kind kind() const noexcept { return static_cast<Kind>(data_.index()); }
  bool is_null() const noexcept { return kind() == Kind::null; }
  bool is_bool() const noexcept { return kind() == Kind::boolean; }
  /// True for integers of either signedness.
  bool is_integer() const noexcept { return kind() == Kind::integer || kind() == Kind::unsigned_integer; }
  /// True for integers and doubles.
  bool is_number() const noexcept { return is_integer() || kind() == Kind::floating; }
  bool is_string() const noexcept { return kind() == Kind::string; }
  bool is_array() const noexcept { return kind() == Kind::array; }
  bool is_object() const noexcept { return kind() == Kind::object; }

  /// Typed access; each throws ValueTypeError when the value is another kind.
  bool as_bool() const;
  /// Integers in int64 range, and doubles with an integral value in that range.
  std::int64_t as_int() const;
  /// Non-negative integers (up to 2^64-1), and non-negative integral doubles in that range.
  std::uint64_t as_uint() const;
  /// Any number.
  double as_double() const;
  const std::string& as_string() const;
  std::string& as_string();
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  /// Members of an object or elements of an array; 0 for scalars and null.
  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }

  /// Object member, inserted as null when missing; a null value first becomes an empty object.
  Value& operator[](std::string_view key);
  /// Object member, or a null value when missing or when this is not an object.
  const Value& operator[](std::string_view key) const noexcept;
  Value& operator[](const char* key) { return (*this)[std::string_view(key)]; }
  const Value& operator[](const char* key) const noexcept { return (*this)[std::string_view(key)]; }
  /// Array element; throws ValueTypeError when not an array or out of range. (A template so
  /// that `v[0]` is not ambiguous with the key overloads.)
  template <std::integral I>
    requires(!std::same_as<I, bool>)
  Value& operator[](I index) {
    return at_index(static_cast<std::size_t>(index));
  }
  template <std::integral I>
    requires(!std::same_as<I, bool>)
  const Value& operator[](I index) const {
    return at_index(static_cast<std::size_t>(index));
  }
  /// Pointer to an object member, or nullptr.
  const Value* find(std::string_view key) const noexcept;
  Value* find(std::string_view key) noexcept;
  bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }
  /// Appends to an array; a null value first becomes an empty array.
  void push_back(Value element);
  /// Sets an object member (replacing an existing one); a null value first becomes an object.
  void set(std::string_view key, Value value);

  /// JSON equality: numbers compare by value across kinds, object member order is ignored.
  friend bool operator==(const Value& a, const Value& b) noexcept;

 private:
  Value& at_index(std::size_t index);
  const Value& at_index(std::size_t index) const;

  using Data = std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double, std::string, Array, Object>;
  Data data_;
};

/// The name of a kind ("null", "boolean", "integer", ...), for messages.
std::string_view kind_name(Value::Kind kind) noexcept;

namespace detail {
/// One element of a Value literal: a value, or a nested brace list decided on conversion.
class ValueInit {
 public:
  ValueInit() noexcept = default;
  ValueInit(std::initializer_list<ValueInit> list) noexcept : list_(list), is_list_(true) {}
  template <class T>
    requires(std::constructible_from<Value, T &&> && !std::same_as<std::remove_cvref_t<T>, ValueInit>)
  ValueInit(T&& value) : value_(std::forward<T>(value)) {}

  /// Builds the Value, moving out of stored values (each element is taken once).
  Value take() const;
  /// True when this element is a [string, value] pair, making its list an object.
  bool is_pair() const noexcept;
  /// Builds the object member of an element for which is_pair() holds.
  std::pair<std::string, Value> take_member() const;

 private:
  mutable Value value_;
  std::initializer_list<ValueInit> list_;
  bool is_list_ = false;
};

Value value_from_list(std::initializer_list<ValueInit> list, bool force_object);
}  // namespace detail

inline Value::Value(std::initializer_list<detail::ValueInit> init) : Value(detail::value_from_list(init, false)) {}

inline Value Value::array(std::initializer_list<detail::ValueInit> elements) {
  Array out;
  out.reserve(elements.size());
  for (const auto& e : elements) out.push_back(e.take());
  return Value(std::move(out));
}

inline Value Value::object(std::initializer_list<detail::ValueInit> members) {
  return detail::value_from_list(members, true);
}

template <detail::NlohmannJson J>
Value::Value(const J& j) {
  using VT = typename J::value_t;
  switch (j.type()) {
    case VT::boolean:
      data_ = j.template get<bool>();
      break;
    case VT::number_integer:
      data_ = static_cast<std::int64_t>(j.template get<std::int64_t>());
      break;
    case VT::number_unsigned: {
      const auto u = j.template get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(INT64_MAX)) {
        data_ = static_cast<std::int64_t>(u);
      } else {
        data_ = u;
      }
      break;
    }
    case VT::number_float:
      data_ = j.template get<double>();
      break;
    case VT::string:
      data_ = j.template get<std::string>();
      break;
    case VT::array: {
      Array a;
      a.reserve(j.size());
      for (const auto& e : j) a.emplace_back(e);
      data_ = std::move(a);
      break;
    }
    case VT::object: {
      Object o;
      o.reserve(j.size());
      for (const auto& item : j.items()) o.emplace_back(item.key(), Value(item.value()));
      data_ = std::move(o);
      break;
    }
    default:  // null, discarded, binary
      break;
  }
}

/// Lets nlohmann::json be built from a Value (`nlohmann::json j = value;`).
template <detail::NlohmannJson J>
void to_json(J& j, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::null:
      j = nullptr;
      break;
    case Value::Kind::boolean:
      j = v.as_bool();
      break;
    case Value::Kind::integer:
      j = v.as_int();
      break;
    case Value::Kind::unsigned_integer:
      j = v.as_uint();
      break;
    case Value::Kind::floating:
      j = v.as_double();
      break;
    case Value::Kind::string:
      j = v.as_string();
      break;
    case Value::Kind::array: {
      j = J::array();
      for (const auto& e : v.as_array()) {
        J element;
        to_json(element, e);
        j.push_back(std::move(element));
      }
      break;
    }
    case Value::Kind::object: {
      j = J::object();
      for (const auto& [key, member] : v.as_object()) {
        J element;
        to_json(element, member);
        j[key] = std::move(element);
      }
      break;
    }
  }
}

}  // namespace synth::tracing
