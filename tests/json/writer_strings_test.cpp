// Strings as JSON text through the public API (Value::dump, keys of objects): escaping of quotes,
// backslashes and control characters, UTF-8 passed through or repaired, checked against a
// reference escaper written from RFC 8259.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "json/writer.hpp"
#include "synth/tracing/json.hpp"

namespace {

using synth::tracing::JsonFormat;
using synth::tracing::Value;

const std::string kFffd = "\xEF\xBF\xBD";

std::string dump_string(std::string_view s) { return Value(std::string(s)).dump(); }

// ---- a reference escaper, written from RFC 8259 and Unicode Table 3-7 ----

// Length of the well-formed UTF-8 sequence at s[i], or 0.
std::size_t well_formed_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  const std::size_t left = s.size() - i;
  const unsigned char c = b(0);
  if (c <= 0x7F) return 1;
  if (in(c, 0xC2, 0xDF)) return left >= 2 && in(b(1), 0x80, 0xBF) ? 2 : 0;
  if (c == 0xE0) return left >= 3 && in(b(1), 0xA0, 0xBF) && in(b(2), 0x80, 0xBF) ? 3 : 0;
  if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) return left >= 3 && in(b(1), 0x80, 0xBF) && in(b(2), 0x80, 0xBF) ? 3 : 0;
  if (c == 0xED) return left >= 3 && in(b(1), 0x80, 0x9F) && in(b(2), 0x80, 0xBF) ? 3 : 0;
  if (c == 0xF0) {
    return left >= 4 && in(b(1), 0x90, 0xBF) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
  }
  if (in(c, 0xF1, 0xF3)) {
    return left >= 4 && in(b(1), 0x80, 0xBF) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
  }
  if (c == 0xF4) {
    return left >= 4 && in(b(1), 0x80, 0x8F) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

// Each byte that does not start a well-formed sequence becomes one U+FFFD.
std::string sanitize(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = well_formed_length(s, i);
    if (n == 0) {
      out += kFffd;
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string reference_escape(std::string_view raw) {
  const std::string s = sanitize(raw);
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          static const char* hex = "0123456789abcdef";
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

// ------------------------------------------------------------------------------------------
// Strings
// ------------------------------------------------------------------------------------------

TEST(WriterStrings, EveryControlCharacterIsEscaped) {
  const char* const expected[0x20] = {
      "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
      "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
      "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
      "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
  };
  for (int c = 0; c < 0x20; ++c) {
    const std::string raw(1, static_cast<char>(c));
    EXPECT_EQ(dump_string(raw), "\"" + std::string(expected[c]) + "\"") << "byte " << c;
    // Also in the middle of longer text (the writer scans 8 bytes at a time).
    EXPECT_EQ(dump_string("abcdefghij" + raw + "klmnopqrs"), "\"abcdefghij" + std::string(expected[c]) + "klmnopqrs\"")
        << "byte " << c;
  }
  // DEL and '/' need no escape.
  EXPECT_EQ(dump_string("\x7F/"), "\"\x7F/\"");
}

TEST(WriterStrings, QuotesAndBackslashes) {
  EXPECT_EQ(dump_string("say \"hi\""), R"("say \"hi\"")");
  EXPECT_EQ(dump_string("C:\\path\\file"), R"("C:\\path\\file")");
  EXPECT_EQ(dump_string("\\\""), R"("\\\"")");
  EXPECT_EQ(dump_string(""), R"("")");
  // Keys are escaped the same way.
  EXPECT_EQ(Value::object({{"k\"\\\n", 1}}).dump(), R"({"k\"\\\n":1})");
}

TEST(WriterStrings, ValidMultiByteUtf8PassesThroughUnchanged) {
  const std::string samples[] = {
      "caf\xC3\xA9",                         // é (2 bytes)
      "\xE2\x82\xAC 100",                    // € (3 bytes)
      "\xF0\x9F\x98\x80",                    // 😀 (4 bytes)
      "\xE2\x80\xA8\xE2\x80\xA9",            // U+2028, U+2029
      "\xEF\xBB\xBF\xEF\xBF\xBF",            // U+FEFF, U+FFFF
      "\xF4\x8F\xBF\xBF",                    // U+10FFFF
      "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xF0\x90\x80\x80",  // range edges
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E and ASCII mixed \xD0\xBF\xD1\x80\xD0\xB8",
  };
  for (const std::string& s : samples) {
    EXPECT_EQ(dump_string(s), "\"" + s + "\"");
    EXPECT_EQ(Value::object({{s, s}}).dump(), "{\"" + s + "\":\"" + s + "\"}");
  }
}

TEST(WriterStrings, InvalidUtf8BecomesReplacementCharacters) {
  struct Case {
    std::string input;
    std::string expected;  // inside the quotes
  };
  const std::string r = kFffd;
  const Case cases[] = {
      {"\x80", r},                                // lone continuation byte
      {"a\xBF" "b", "a" + r + "b"},
      {"ab\xE2\x82", "ab" + r + r},               // sequence truncated at the end
      {"\xE2\x82" "ab", r + r + "ab"},            // ... and in the middle
      {"\xF0\x9F\x98", r + r + r},
      {"\xC2", r},
      {"\xC0\xAF", r + r},                        // overlong '/'
      {"\xC1\xBF", r + r},
      {"\xE0\x80\xAF", r + r + r},                // overlong, 3 bytes
      {"\xF0\x80\x80\xAF", r + r + r + r},        // overlong, 4 bytes
      {"\xED\xA0\x80", r + r + r},                // UTF-8-encoded surrogate U+D800
      {"\xED\xBF\xBF", r + r + r},                // U+DFFF
      {"\xF4\x90\x80\x80", r + r + r + r},        // U+110000, beyond Unicode
      {"\xF5\x80\x80\x80", r + r + r + r},
      {"\xFE\xFF", r + r},
      {"\xFF\xC3\xA9", r + "\xC3\xA9"},            // valid text right after a bad byte survives
      {"ok\xC3", "ok" + r},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(dump_string(c.input), "\"" + c.expected + "\"") << "input bytes: " << c.input.size();
    // Keys are repaired too.
    EXPECT_EQ(Value::object({{c.input, 1}}).dump(), "{\"" + c.expected + "\":1}");
  }
}

TEST(WriterStrings, MatchesReferenceEscaperAtEveryAlignment) {
  const std::string specials[] = {"\"", "\\", "\n", std::string(1, '\0'), "\x1F", "\x7F", "\xC3\xA9",
                                  "\xF0\x9F\x98\x80", "\x80", "\xE2\x82", "\xED\xA0\x80", "\xF4\x90\x80\x80"};
  for (const std::string& special : specials) {
    for (std::size_t before = 0; before <= 17; ++before) {
      for (std::size_t after : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{9}}) {
        const std::string s = std::string(before, 'a') + special + std::string(after, 'z');
        EXPECT_EQ(dump_string(s), reference_escape(s)) << "before " << before << " after " << after;
      }
    }
  }
}

TEST(WriterStrings, RandomBytesMatchReferenceAndDecodeBack) {
  std::mt19937_64 rng(20250101);
  const unsigned char interesting[] = {'"', '\\', 0, 0x1F, 0x20, 0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xDF,
                                       0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 'a', 0xA0, 0x9F, 0x90};
  for (int i = 0; i < 3000; ++i) {
    std::string s(rng() % 24, '\0');
    for (char& c : s) {
      c = static_cast<char>(rng() % 3 == 0 ? interesting[rng() % std::size(interesting)] : rng() % 256);
    }
    const std::string out = dump_string(s);
    ASSERT_EQ(out, reference_escape(s)) << "iteration " << i;
    // An independent parser reads the output back as the sanitized text.
    const nlohmann::json j = nlohmann::json::parse(out);
    ASSERT_EQ(j.get<std::string>(), sanitize(s)) << "iteration " << i;
  }
}

// The writer checks and copies whole words (8 bytes, or two overlapping 4-byte halves, or the
// first, middle and last byte of 1-3), the last word overlapping the one before: every length,
// with one byte needing attention at every position, in strings, keys and indented keys.
TEST(WriterStrings, OneSpecialByteAtEveryPositionOfEveryLength) {
  std::vector<std::string> specials = {"\"", "\\", "\x7F", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\x80", "\xFF"};
  for (int c = 0; c < 0x20; ++c) specials.emplace_back(1, static_cast<char>(c));
  for (std::size_t length = 0; length <= 40; ++length) {
    std::string plain(length, 'a');
    for (std::size_t i = 0; i < length; ++i) plain[i] = static_cast<char>('!' + (i * 7) % 90 + (i % 3 == 0));
    for (char& ch : plain) {
      if (ch == '"' || ch == '\\') ch = 'x';
    }
    ASSERT_EQ(dump_string(plain), reference_escape(plain)) << "length " << length;
    ASSERT_EQ(Value::object({{plain, 1}}).dump(), "{" + reference_escape(plain) + ":1}") << "length " << length;
    for (std::size_t at = 0; at < length; ++at) {
      for (const std::string& special : specials) {
        const std::string s = plain.substr(0, at) + special + plain.substr(at + 1);
        const std::string expected = reference_escape(s);
        ASSERT_EQ(dump_string(s), expected) << "length " << length << " at " << at;
        ASSERT_EQ(Value::object({{s, 1}, {"b", s}}).dump(), "{" + expected + ":1,\"b\":" + expected + "}")
            << "length " << length << " at " << at;
        ASSERT_EQ(Value::object({{s, 1}}).dump(JsonFormat{1}), "{\n " + expected + ": 1\n}")
            << "length " << length << " at " << at;
      }
    }
  }
}

}  // namespace

// The offset of the first bad byte, wherever it falls among whole words of ASCII (read a word at a
// time) and valid multi-byte sequences: the store refuses or repairs text by it.
TEST(WriterStrings, FirstInvalidUtf8IsFoundAtEveryOffset) {
  using synth::tracing::detail::first_invalid_utf8;
  const std::string euro = "\xE2\x82\xAC";
  for (std::size_t length = 0; length <= 40; ++length) {
    const std::string ascii(length, 'a');
    EXPECT_EQ(first_invalid_utf8(ascii), length);
    for (std::size_t at = 0; at < length; ++at) {
      for (const char bad : {'\x80', '\xFF', '\xC2'}) {  // continuation, never valid, truncated
        std::string s = ascii;
        s[at] = bad;
        EXPECT_EQ(first_invalid_utf8(s), at) << "length " << length << ", bad byte at " << at;
      }
      std::string valid = ascii;
      valid.replace(at, 1, euro);  // a sequence across a word's end, then ASCII after it
      EXPECT_EQ(first_invalid_utf8(valid), valid.size());
      std::string after = valid + ascii;
      after[valid.size() + at] = '\xBF';
      EXPECT_EQ(first_invalid_utf8(after), valid.size() + at);
    }
  }
}
