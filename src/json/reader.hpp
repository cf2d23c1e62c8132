// Internal: reading JSON with simdjson's on-demand API, reporting every problem as a
// TraceFormatError that names the source, the byte offset, line and column, and the JSON path.
#pragma once

#include <simdjson.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "synth/tracing/json.hpp"
#include "synth/tracing/model.hpp"

namespace synth::tracing::detail {

namespace od = simdjson::ondemand;

/// A simdjson parser and a padded input buffer, reused by the JsonReaders of one thread: fresh
/// memory costs page faults, which dominate parsing otherwise.
struct ParseWorkspace;

/// Borrows this thread's workspace (or a private one while it is in use) for one reader, and
/// gives it back when destroyed, also when the reader's constructor throws.
class WorkspaceLease {
 public:
  WorkspaceLease();
  ~WorkspaceLease();
  WorkspaceLease(const WorkspaceLease&) = delete;
  WorkspaceLease& operator=(const WorkspaceLease&) = delete;
  ParseWorkspace& get() noexcept { return *workspace_; }

 private:
  std::unique_ptr<ParseWorkspace> own_;
  ParseWorkspace* workspace_;
};

/// `key == literal`, compared inline (std::string_view's == called compare() out of line, a
/// measurable share of reading a trace's many keys).
template <std::size_t N>
inline bool key_is(std::string_view key, const char (&literal)[N]) noexcept {
  return key.size() == N - 1 && std::memcmp(key.data(), literal, N - 1) == 0;
}

/// Reads ISO-8601 timestamp texts, remembering the last one: instants repeat (a message's
/// timestamp and its time record, the events of one step), and the next one is often in the
/// same minute. The texts must stay valid until forget() or the next read.
class TimestampParser {
 public:
  /// parse_timestamp(text), taking the last value when `text` repeats it or shares its minute.
  std::optional<Timestamp> parse(std::string_view text) noexcept;
  /// Forgets the last text (before the buffer holding it is reused).
  void forget() noexcept { *this = TimestampParser(); }

 private:
  std::string_view last_text_;
  Timestamp last_{};
  std::int64_t last_seconds_ = -1;  // nanoseconds of last_ within its minute, -1 if unknown
};

/// A scalar's JSON text for messages (the number as written), without the whitespace after it.
std::string token_text(od::value v);

class JsonReader {
 public:
  /// Reads `text`, which must outlive the reader; `source` names it in errors. The text is
  /// copied into a padded buffer when simdjson first needs it (our compact traces are read
  /// from `input()` without it).
  JsonReader(std::string_view text, std::string_view source);
  JsonReader(const JsonReader&) = delete;
  JsonReader& operator=(const JsonReader&) = delete;

  /// Runs `body(root)` on the document's root, which must be an object, and checks that
  /// nothing follows it. simdjson failures inside become TraceFormatError.
  template <class Body>
  auto read_object(Body&& body) {
    if (!started_) start(input_.size());
    try {
      auto result = body(object_root());
      finish();
      return result;
    } catch (const simdjson::simdjson_error& e) {
      fail_simdjson(e.error());
    }
  }

  /// The whole document as a Value (any JSON, scalars included).
  Value read_value();

  /// Lets read_object read only the text before `length`, closed by a '}' written over the
  /// byte at `length` (a ',' between two members of the root), so that the rest is not indexed
  /// at all. False, with nothing started, when simdjson rejects that text at once; errors met
  /// while reading it are the caller's to handle (a cut inside a nested value reads as broken
  /// JSON). Meanwhile report() holds its messages back.
  bool start_prefix(std::size_t length);
  /// After the prefix: lets read_object read the rest of the text as an object of its own, the
  /// byte at the prefix's end becoming its '{'. Offsets in errors stay those of the whole text.
  /// False when simdjson rejects that text at once.
  bool start_rest();
  /// Ends a prefix reading: restores the byte and forgets the document, so that read_object
  /// reads the whole text again. The messages held back are reported when `keep_reports`,
  /// dropped otherwise (a second reading reports them again).
  void end_prefix(bool keep_reports);
  /// Reports a problem that is not an error (detail::report), or holds it back while a prefix
  /// is read.
  void report(std::string message);
  /// The padded copy of the input text: views of it stay valid while the reader lives.
  std::string_view text() {
    copy_input();
    return text_;
  }
  /// The input text as given, without padding.
  std::string_view input() const noexcept { return input_; }
  /// Where the next token starts, or the end of the text once the document is consumed. Right
  /// after a value is read, [where it started, position()) is its text and the whitespace after.
  const char* position();
  /// What the input is called in errors (a file name, "<string>", ...).
  const std::string& source() const noexcept { return source_; }

  /// Any JSON value.
  Value value(od::value v);
  /// A number, string, boolean or null.
  [[gnu::noinline]] Value scalar(od::value v);
  /// Reads and discards a value (still checking that it is well-formed).
  void skip(od::value v) { (void)value(v); }

  /// An object member's key, valid for the whole document: read in place when it has no
  /// escape (nearly every key; unescaping each one was a measurable share of reading a trace),
  /// unescaped into the parser's buffer otherwise. Throws simdjson_error on a malformed member.
  std::string_view key(simdjson::simdjson_result<od::field>& field) {
    if (field.error()) throw simdjson::simdjson_error(field.error());
    od::field& f = field.value_unsafe();
    const char* const s = f.key().raw();
    const char* const end = quote_or_backslash(s);
    if (*end == '"') return std::string_view(s, static_cast<std::size_t>(end - s));
    return f.unescaped_key().value();
  }

  /// The first '"' or '\\' at or after `p`, inside a string of the text. Stage 1 has checked
  /// that every string is closed, so a quote comes before the end of the text, and the buffer's
  /// padding lets 8 bytes be read anywhere before it.
  static const char* quote_or_backslash(const char* p) noexcept {
    constexpr std::uint64_t kOnes = 0x0101010101010101u;
    constexpr std::uint64_t kHighs = 0x8080808080808080u;
    const auto bytes_equal = [](std::uint64_t w, unsigned char c) {
      const std::uint64_t x = w ^ (kOnes * c);
      return (x - kOnes) & ~x & kHighs;  // the lowest set bit marks the first equal byte
    };
    for (;; p += 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (const std::uint64_t hit = bytes_equal(w, '"') | bytes_equal(w, '\\')) {
        return p + std::countr_zero(hit) / 8;
      }
    }
  }

  std::string string(od::value v);
  /// A string's (unescaped) text, valid for the whole document.
  std::string_view string_in_place(od::value v);
  std::optional<std::string> optional_string(od::value v);
  std::optional<std::string_view> optional_string_in_place(od::value v);
  /// Integers, and doubles holding an integral value.
  std::int64_t integer(od::value v);
  std::optional<std::int64_t> optional_integer(od::value v);
  std::optional<double> optional_number(od::value v);
  std::optional<bool> optional_boolean(od::value v);
  /// ISO-8601 text, epoch seconds, or null (the unset timestamp).
  Timestamp timestamp(od::value v);
  bool is_null(od::value v);
  od::object object(od::value v);
  od::array array(od::value v);

  /// Throws TraceFormatError at value `v` with `problem` (the current path is prepended).
  [[noreturn]] void fail(od::value v, std::string problem);
  [[noreturn]] void fail_at(const char* where, std::string problem);

  /// Makes `key` or `index` the current path segment at this nesting level while the guard
  /// lives. Segments are only overwritten by later guards, never removed, so when an exception
  /// unwinds the guards the path still names where it happened.
  class Path {
   public:
    Path(JsonReader& r, std::string_view key) : r_(r) { r_.enter(key); }
    Path(JsonReader& r, std::size_t index) : r_(r) { r_.enter(index); }
    ~Path() { --r_.depth_; }
    Path(const Path&) = delete;
    Path& operator=(const Path&) = delete;

   private:
    JsonReader& r_;
  };

 private:
  // Inline and without a variant argument: entered once per member read.
  template <class Segment>
  void enter(Segment segment) {
    if (depth_ < path_.size()) {
      path_[depth_] = segment;
      path_.resize(depth_ + 1);  // shrinking a vector of trivial elements frees nothing
    } else {
      path_.emplace_back(segment);
    }
    ++depth_;
  }
  od::value object_root();
  void finish();
  /// `started` is false while the document could not even be iterated (doc_ is then unusable).
  [[noreturn]] void fail_simdjson(simdjson::error_code code, bool started = true);
  [[noreturn]] void fail_offset(std::size_t offset, std::string problem);
  /// The first `depth` segments of the path as text ("session_time_steps[0].events[2]").
  std::string path_string(std::size_t depth) const;
  std::string found(od::value v);
  /// What the document is, for "expected ..., found" messages. simdjson's type() looks at the
  /// first byte only, so a scalar that merely starts like one ("nothing", "12abc") is reported
  /// (thrown) as malformed instead.
  std::string found_document();

  /// Indexes text[0, length) (the whole text, or a prefix) for reading. Throws TraceFormatError
  /// when simdjson rejects it.
  void start(std::size_t length);
  simdjson::error_code try_start(std::size_t length, std::size_t begin = 0);
  /// Copies the input into the workspace's padded buffer, once.
  void copy_input();
  /// Forgets what points into simdjson's string buffer (before another document reuses it).
  void forget_strings() noexcept;

  std::string source_;
  WorkspaceLease workspace_;
  std::string_view input_;
  std::string_view text_;  // the padded copy of the input, in the workspace, once copy_input() made it
  bool copied_ = false;
  od::document doc_;
  std::vector<std::variant<std::string_view, std::size_t>> path_;
  TimestampParser timestamps_;  // its texts stay in the parser's buffer
  std::size_t depth_ = 0;  // segments of path_ that are current
  bool started_ = false;
  // While a prefix is read: where it ends (the byte replaced by '}'), that byte, and the reports
  // held back.
  std::size_t prefix_end_ = 0;
  char prefix_byte_ = 0;
  bool in_prefix_ = false;
  std::vector<std::string> held_reports_;
};

}  // namespace synth::tracing::detail
