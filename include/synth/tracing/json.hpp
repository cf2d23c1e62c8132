// synth::tracing::Value: the JSON value held by every free-form field of a trace (states,
// metadata, payloads, message content), with nlohmann::json-style literals and conversions.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
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
  /// A deep copy. Out of memory throws std::bad_alloc and leaves nothing half-made.
  Value(const Value& other);
  /// Takes `other`'s content; `other` keeps its kind, with a moved-from string, array or object.
  Value(Value&& other) noexcept : kind_(other.kind_) { take_from(other); }
  Value& operator=(const Value& other);
  Value& operator=(Value&& other) noexcept {
    if (!holds_heap()) {  // nothing to free, so `other` cannot live inside this value
      kind_ = other.kind_;
      take_from(other);
    } else if (this != &other) {
      Value taken(std::move(other));  // first: `other` may be a member or element of this value
      destroy_heap();
      kind_ = taken.kind_;
      take_from(taken);
    }
    return *this;
  }
  ~Value() {
    if (holds_heap()) destroy_heap();
  }
  Value(std::nullptr_t) noexcept {}
  template <std::same_as<bool> B>  // a template so that pointers do not silently become booleans
  Value(B b) noexcept : kind_(Kind::boolean) {
    data_.boolean = b;
  }
  template <std::integral I>
    requires(!std::same_as<I, bool> && !detail::CharLike<I>)
  Value(I i) noexcept {
    if constexpr (std::is_signed_v<I>) {
      kind_ = Kind::integer;
      data_.integer = static_cast<std::int64_t>(i);
    } else if (static_cast<std::uint64_t>(i) <= static_cast<std::uint64_t>(INT64_MAX)) {
      kind_ = Kind::integer;
      data_.integer = static_cast<std::int64_t>(i);
    } else {
      kind_ = Kind::unsigned_integer;
      data_.unsigned_integer = static_cast<std::uint64_t>(i);
    }
  }
  template <std::floating_point F>
  Value(F f) noexcept : kind_(Kind::floating) {
    data_.floating = static_cast<double>(f);
  }
  // The kind is set once the alternative exists: a constructor that throws leaves nothing to free.
  Value(const char* s) {
    new (&data_.string) std::string(s);
    kind_ = Kind::string;
  }
  Value(std::string s) noexcept : kind_(Kind::string) { new (&data_.string) std::string(std::move(s)); }
  Value(std::string_view s) {
    new (&data_.string) std::string(s);
    kind_ = Kind::string;
  }
  Value(Array a) noexcept : kind_(Kind::array) { new (&data_.array) Array(std::move(a)); }
  Value(Object o) noexcept : kind_(Kind::object) { new (&data_.object) Object(std::move(o)); }
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

  Kind kind() const noexcept { return kind_; }
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
  const std::string& as_string() const {
    if (kind_ != Kind::string) wrong_kind(Kind::string);
    return data_.string;
  }
  std::string& as_string() {
    if (kind_ != Kind::string) wrong_kind(Kind::string);
    return data_.string;
  }
  const Array& as_array() const {
    if (kind_ != Kind::array) wrong_kind(Kind::array);
    return data_.array;
  }
  Array& as_array() {
    if (kind_ != Kind::array) wrong_kind(Kind::array);
    return data_.array;
  }
  const Object& as_object() const {
    if (kind_ != Kind::object) wrong_kind(Kind::object);
    return data_.object;
  }
  Object& as_object() {
    if (kind_ != Kind::object) wrong_kind(Kind::object);
    return data_.object;
  }

  /// Members of an object or elements of an array; 0 for scalars and null.
  std::size_t size() const noexcept {
    if (kind_ == Kind::array) return data_.array.size();
    if (kind_ == Kind::object) return data_.object.size();
    return 0;
  }
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

  // Throws ValueTypeError: this value is not of the `wanted` kind.
  [[noreturn]] void wrong_kind(Kind wanted) const;
  bool holds_heap() const noexcept { return kind_ >= Kind::string; }
  // Moves `other`'s content in; kind_ is already other's, and this value holds nothing. Scalars
  // (and null) are copied inline; strings, arrays and objects out of line (take_heap).
  void take_from(Value& other) noexcept {
    if (holds_heap()) {
      take_heap(other);
    } else {
      data_.unsigned_integer = other.data_.unsigned_integer;  // every scalar's 8 bytes
    }
  }
  void take_heap(Value& other) noexcept;
  void destroy_heap() noexcept;

  // A tagged union rather than std::variant: moving or destroying a scalar, a null or a
  // moved-from value is a few inline instructions instead of a visit through a table of
  // functions (issue 11: a scope moves and destroys many small values on the agent's thread).
  union Storage {
    Storage() noexcept : unsigned_integer(0) {}  // all 8 bytes set: take_from copies them
    ~Storage() {}                               // Value destroys the alternative of its kind
    bool boolean;
    std::int64_t integer;
    std::uint64_t unsigned_integer;
    double floating;
    std::string string;
    Array array;
    Object object;
  };
  Kind kind_ = Kind::null;
  Storage data_;
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
  /// A C string (a literal's keys and values, usually) is copied once, straight into the key or
  /// value that takes it, not into a string of its own first. It lives as long as this element:
  /// until the end of the full expression.
  ValueInit(const char* text) noexcept : text_(text) {}

  /// Builds the Value, moving out of stored values (each element is taken once).
  Value take() const;
  /// True when this element is a [string, value] pair, making its list an object.
  bool is_pair() const noexcept;
  /// Appends the object member of an element for which is_pair() holds.
  void append_member(Value::Object& members) const;

 private:
  mutable Value value_;
  std::initializer_list<ValueInit> list_;
  const char* text_ = nullptr;  // set instead of value_ for a C string
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
      *this = Value(j.template get<bool>());
      break;
    case VT::number_integer:
      *this = Value(static_cast<std::int64_t>(j.template get<std::int64_t>()));
      break;
    case VT::number_unsigned:
      *this = Value(j.template get<std::uint64_t>());  // int64 when it fits, as every unsigned
      break;
    case VT::number_float:
      *this = Value(j.template get<double>());
      break;
    case VT::string:
      *this = Value(j.template get<std::string>());
      break;
    case VT::array: {
      Array a;
      a.reserve(j.size());
      for (const auto& e : j) a.emplace_back(e);
      *this = Value(std::move(a));
      break;
    }
    case VT::object: {
      Object o;
      o.reserve(j.size());
      for (const auto& item : j.items()) o.emplace_back(item.key(), Value(item.value()));
      *this = Value(std::move(o));
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
