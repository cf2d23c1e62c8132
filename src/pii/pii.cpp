// PII masking with RE2.
//
// How a text is scanned:
//
// 1. A pre-scan walks the bytes once (16 at a time with SSE2) and stops only at "trigger" bytes:
//    digits (phone, SSN, card, IP), '@' (email, URL userinfo) and the bytes at which a key or
//    credential marker is checked ('-' / '_' after a key prefix such as sk- or gsk_, 'A' of
//    AKIA/ASIA/AIza, 'J' of a JWT's eyJ, 'b'/'B' of bearer, '=' of ?key=; see pii_keys.cpp).
//    Prose without any of them costs this loop and nothing else; RE2 is never called. A string of
//    lower-case hex alone (span and trace ids) without 13 digits in a row skips it: no built-in
//    matches such a string (a card is the only item made of digits alone).
// 2. Each trigger yields a small window: the maximal run of "numeric" bytes (digits, space, ( ) +
//    . -) around a digit, the local-part@domain run around an '@', the marker plus the token that
//    follows it. Every match of a built-in detector lies inside such a window, so each built-in's
//    RE2 runs on its windows only (given the full text plus start/end offsets, so that \b and the
//    validators see the real neighbours). Cheap counts gate the numeric detectors (a card needs
//    13 digits, an IP three dots, ...), so most numbers in prose never reach RE2.
// 3. Validators (Luhn and issuer prefix, SSN rules, IPv4 octets, phone digit counts, bearer-token
//    shape) run on each candidate; some narrow it (the token after "Bearer", the digits after
//    "SSN:"), the card validator tries every group-aligned sub-span of a digit run (so a card
//    glued to a preceding id, "id-25869129 4483-2621-2830-5087", is still found whole).
// 4. User patterns have no trigger: each runs over the whole text (an RE2::Set first answers
//    "does any of them match at all", so clean text costs one pass for all of them).
// 5. All accepted spans of all detectors are unioned: spans that overlap merge into one span that
//    takes the token of the span starting first (then the longest, then the detector listed first).
//    Spans that merely touch keep their own tokens. Nothing of an item can leak because another
//    item's match swallowed its start.
// 6. Registered secrets (register_secret()) are found by plain search in every text, whatever
//    the detectors, and join the union as [SECRET].
#include "synth/tracing/pii.hpp"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "pii/pii_keys.hpp"
#include "pii/pii_spans.hpp"
#include "pii/pii_text.hpp"
#include "pii/pii_validators.hpp"
#include "secrets/secrets.hpp"
#include "synth/tracing/error.hpp"

namespace synth::tracing {

namespace {

using namespace pii_detail;

// ---------------------------------------------------------------------------------------------
// Built-in detectors

enum class Builtin : std::uint8_t { email, phone, ssn, card, api_key, ip, none };
constexpr std::size_t kBuiltinCount = 6;
// The detector index of registered secrets' spans (listed after every detector).
constexpr std::uint32_t kSecretDetector = UINT32_MAX;

const char* const kEmailRegex =
    R"([\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,})";
// Phone, SSN and card candidates need no \b: their validators only require that no digit touches
// them, so "tel555-987-6543" or an item glued to an email ("a@b.com555-987-6543") is still found.
// US forms (optionally +1 / 1 first) or +CC followed by up to six groups.
const char* const kPhoneRegex =
    R"((?:\+1[ .-]?|1[ .-])?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4})"
    R"(|\+[1-9]\d{0,2}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,6})){1,6})";
// ddd-dd-dddd, ddd dd dddd (one separator throughout), or 9 bare digits right after "SSN".
const char* const kSsnRegex =
    R"(\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4})"
    R"(|(?i:\bssn\b|\bsocial security(?: number| no\.?)?)\W{0,3}(?:(?i:is|was|of)\W{1,3})?\d{9})";
// A run of digits with single spaces or dashes; the validator picks the card-shaped sub-spans.
const char* const kCardRegex = R"(\d(?:[ -]?\d){12,})";
const char* const kIpRegex = R"(\b(?:\d{1,3}\.){3}\d{1,3}\b)";

const std::vector<PiiPattern>& builtins() {
  static const std::vector<PiiPattern> patterns{
      {"email", kEmailRegex, "[EMAIL]"},       {"phone", kPhoneRegex, "[PHONE]"},
      {"ssn", kSsnRegex, "[SSN]"},             {"credit_card", kCardRegex, "[CREDIT_CARD]"},
      {"api_key", kApiKeyRegex, "[API_KEY]"},  {"ip", kIpRegex, "[IP]"},
  };
  return patterns;
}

// ---------------------------------------------------------------------------------------------

struct Detector {
  std::string name;
  std::string regex;
  std::string replacement;
  Builtin kind = Builtin::none;  // none: a user pattern, run over the whole text, no validation
  std::unique_ptr<RE2> re;
};

std::unique_ptr<RE2> compile(const std::string& name, const std::string& regex, bool builtin) {
  RE2::Options options;
  options.set_log_errors(false);
  // Built-ins want the longest candidate at each start (their validators trim); user patterns
  // keep Perl semantics (lazy operators mean what they say).
  options.set_longest_match(builtin);
  auto re = std::make_unique<RE2>(regex, options);
  if (!re->ok()) throw Error("PII pattern '" + name + "': invalid regex '" + regex + "': " + re->error());
  return re;
}

bool is_builtin_name(std::string_view name, std::size_t& index) {
  const auto& b = builtins();
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (b[i].name == name) {
      index = i;
      return true;
    }
  }
  return false;
}

}  // namespace

struct PiiMasker::Impl {
  std::vector<Detector> detectors;
  // Index into `detectors` of each active built-in (validated, windowed), or -1.
  std::array<int, kBuiltinCount> builtin{-1, -1, -1, -1, -1, -1};
  std::vector<std::uint32_t> custom;  // indices of user patterns
  std::unique_ptr<RE2::Set> custom_set;
  std::array<bool, 256> trigger{};  // bytes that stop the pre-scan
  bool email_on = false, key_on = false, numeric_on = false;

  int active(Builtin b) const { return builtin[static_cast<std::size_t>(b)]; }

  // Runs detector `d` on [ws, we) of `t`, pushing validated spans.
  void run(std::uint32_t d, Text t, std::size_t ws, std::size_t we, SpanList& out) const {
    const Detector& det = detectors[d];
    const re2::StringPiece text(t.data(), t.size());
    std::size_t pos = ws;
    while (pos < we) {
      re2::StringPiece m;
      if (!det.re->Match(text, pos, we, RE2::UNANCHORED, &m, 1)) break;
      const std::size_t s = static_cast<std::size_t>(m.data() - t.data());
      const std::size_t e = s + m.size();
      if (e == s) {  // an empty match masks nothing
        pos = s + 1;
        continue;
      }
      switch (det.kind) {
        case Builtin::phone: pos = validate_phone(t, s, e, d, out); break;
        case Builtin::ssn: pos = validate_ssn(t, s, e, d, out); break;
        case Builtin::card: pos = validate_card(t, s, e, d, out); break;
        case Builtin::ip: pos = validate_ip(t, s, e, d, out); break;
        case Builtin::api_key: {
          const KeyVerdict v = validate_key(t, s, e);
          if (v.end > v.start) out.push(v.start, v.end, d);
          pos = v.next;
          break;
        }
        case Builtin::email:
        case Builtin::none:
          out.push(s, e, d);
          pos = e;
          break;
      }
    }
  }

  void run_if(Builtin b, Text t, std::size_t ws, std::size_t we, SpanList& out) const {
    const int d = active(b);
    if (d >= 0) run(static_cast<std::uint32_t>(d), t, ws, we, out);
  }

  // The first byte at or after `i` that may start an item (n if none).
  std::size_t next_trigger(const unsigned char* p, std::size_t i, std::size_t n) const {
#if defined(__SSE2__)
    // 16 bytes at a time: digits, '@', '-', '_', 'A', 'J', '=', 'b'/'B' (the union of all
    // triggers; the table then drops the classes of disabled detectors).
    const __m128i digit_bias = _mm_set1_epi8(static_cast<char>(0x80 - '0'));
    const __m128i digit_limit = _mm_set1_epi8(static_cast<char>(0x80 + 10));
    const __m128i at_sign = _mm_set1_epi8('@'), dash = _mm_set1_epi8('-'), underscore = _mm_set1_epi8('_');
    const __m128i upper_a = _mm_set1_epi8('A'), upper_j = _mm_set1_epi8('J'), equals = _mm_set1_epi8('=');
    const __m128i b = _mm_set1_epi8('b'), case_bit = _mm_set1_epi8(0x20);
    while (i + 16 <= n) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      __m128i hit = _mm_cmplt_epi8(_mm_add_epi8(v, digit_bias), digit_limit);
      hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, at_sign));
      hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, dash));
      hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, underscore));
      hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, upper_a));
      hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, upper_j));
      hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, equals));
      hit = _mm_or_si128(hit, _mm_cmpeq_epi8(_mm_or_si128(v, case_bit), b));
      auto bits = static_cast<unsigned>(_mm_movemask_epi8(hit));
      while (bits != 0) {
        const std::size_t k = i + static_cast<std::size_t>(__builtin_ctz(bits));
        if (trigger[p[k]]) return k;
        bits &= bits - 1;
      }
      i += 16;
    }
#endif
    while (i < n && !trigger[p[i]]) ++i;
    return i;
  }

  // Lower-case hex only (span and trace ids, hashes: several in every event) with no 13 digits in
  // a row: no built-in can match it. Every other item needs a byte outside [0-9a-f] (a separator,
  // '@', '.', a key prefix's letter); a card is the one made of digits alone.
  static bool hex_without_card(Text t) {
    std::size_t digits = 0;  // in a row
    for (const char ch : t) {
      const auto c = static_cast<unsigned char>(ch);
      if (is_digit(c)) {
        if (++digits == 13) return false;
      } else if (c >= 'a' && c <= 'f') {
        digits = 0;
      } else {
        return false;
      }
    }
    return true;
  }

  // Pre-scan plus built-ins on their windows.
  void scan_builtins(Text t, SpanList& out) const {
    const auto* p = reinterpret_cast<const unsigned char*>(t.data());
    const std::size_t n = t.size();
    std::size_t i = 0;
    std::size_t numeric_floor = 0;  // end of the last numeric window
    KeyFloors key_floors;
    while (true) {
      i = next_trigger(p, i, n);
      if (i >= n) break;
      const unsigned char c = p[i];
      if (is_digit(c)) {
        std::size_t a = i;
        while (a > numeric_floor && (cls(p[a - 1]) & kNumeric)) --a;
        std::size_t digits = 0, dots = 0, run = 0;
        bool plus = false, nine = false;  // nine: a run of exactly 9 digits
        for (std::size_t k = a; k < i; ++k) {
          dots += p[k] == '.';
          plus |= p[k] == '+';
        }
        std::size_t b = i;
        while (b < n && (cls(p[b]) & kNumeric)) {
          if (is_digit(p[b])) {
            ++digits;
            ++run;
          } else {
            nine |= run == 9;
            run = 0;
            dots += p[b] == '.';
            plus |= p[b] == '+';
          }
          ++b;
        }
        nine |= run == 9;
        numeric_floor = b;
        i = b;
        while (p[a] == ' ') ++a;  // p[a..b) holds a digit, so this stops
        std::size_t e = b;
        while (p[e - 1] == ' ') --e;
        if (digits >= 10 || (plus && digits >= 8)) run_if(Builtin::phone, t, a, e, out);
        if (digits >= 9) {
          // Nine bare digits count only after an "SSN" label, which lies before the window.
          const std::size_t back = nine ? std::min<std::size_t>(a, 40) : 0;
          run_if(Builtin::ssn, t, a - back, e, out);
        }
        if (digits >= 13) run_if(Builtin::card, t, a, e, out);
        if (dots >= 3 && digits >= 4) run_if(Builtin::ip, t, a, e, out);
        continue;
      }
      const KeyWindow key = key_on ? key_window(t, i, key_floors) : KeyWindow{};
      // True when the '@' ends a URL's userinfo (scheme://user:password@host) masked as a credential.
      bool masked_userinfo = false;
      if (!key.empty()) {
        const std::size_t before = out.size();
        run_if(Builtin::api_key, t, key.start, key.end, out);
        if (c == '@') {
          for (const Span* s = out.begin() + before; s != out.end(); ++s) masked_userinfo |= s->end == i;
        }
      }
      // That '@' is not an email's; one that only looked like it (the credential pattern rejected
      // the URL) still is.
      if (c == '@' && email_on && !masked_userinfo) {
        std::size_t a = i;
        while (a > 0 && (cls(p[a - 1]) & kLocal)) --a;
        std::size_t b = i + 1;
        bool dot = false;
        while (b < n && (cls(p[b]) & kDomain)) dot |= p[b++] == '.';
        if (a < i && dot) run_if(Builtin::email, t, a, b, out);
      }
      ++i;
    }
  }

  static void scan_secrets(Text t, SpanList& out) {
    detail::find_registered_secrets(t, [&](std::size_t start, std::size_t end) { out.push(start, end, kSecretDetector); });
  }

  void scan_custom(Text t, SpanList& out) const {
    if (custom.empty()) return;
    if (custom_set && !custom_set->Match(re2::StringPiece(t.data(), t.size()), nullptr)) return;
    for (std::uint32_t d : custom) run(d, t, 0, t.size(), out);
  }

  // The masked text, or false when nothing was found (then `result` is untouched).
  bool mask(Text t, std::string& result) const {
    SpanList spans;
    if ((email_on || key_on || numeric_on) && !hex_without_card(t)) scan_builtins(t, spans);
    scan_custom(t, spans);
    scan_secrets(t, spans);
    if (spans.empty()) return false;
    std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) {
      if (x.start != y.start) return x.start < y.start;
      if (x.end != y.end) return x.end > y.end;
      return x.detector < y.detector;
    });
    std::string out;
    out.reserve(t.size());
    std::size_t copied = 0;
    const Span* it = spans.begin();
    const Span* last = spans.end();
    while (it != last) {
      const Span& first = *it;
      std::size_t end = first.end;
      for (++it; it != last && it->start < end; ++it) end = std::max(end, it->end);
      out.append(t.data() + copied, first.start - copied);
      out += first.detector == kSecretDetector ? detail::kSecretToken : detectors[first.detector].replacement;
      copied = end;
    }
    out.append(t.data() + copied, t.size() - copied);
    result = std::move(out);
    return true;
  }

  void mask_value(Value& v) const {
    switch (v.kind()) {
      case Value::Kind::string: {
        std::string masked;
        if (mask(v.as_string(), masked)) v.as_string() = std::move(masked);
        break;
      }
      case Value::Kind::array:
        for (Value& e : v.as_array()) mask_value(e);
        break;
      case Value::Kind::object:
        for (auto& member : v.as_object()) mask_value(member.second);
        break;
      default:
        break;
    }
  }
};

PiiMasker::PiiMasker() : PiiMasker(std::vector<PiiPattern>{}, true) {}

PiiMasker::PiiMasker(std::vector<PiiPattern> patterns, bool with_builtins) : impl_(std::make_unique<Impl>()) {
  const auto& b = builtins();
  std::vector<Detector>& dets = impl_->detectors;
  auto builtin_detector = [&](std::size_t index, std::string replacement) {
    Detector d;
    d.name = b[index].name;
    d.regex = b[index].regex;
    d.replacement = replacement.empty() ? b[index].replacement : std::move(replacement);
    d.kind = static_cast<Builtin>(index);
    return d;
  };
  if (with_builtins) {
    for (std::size_t i = 0; i < b.size(); ++i) dets.push_back(builtin_detector(i, {}));
  }
  for (PiiPattern& p : patterns) {
    if (p.name.empty()) throw Error("PII pattern with an empty name (regex '" + p.regex + "')");
    Detector d;
    std::size_t index = 0;
    if (is_builtin_name(p.name, index) && (p.regex.empty() || p.regex == b[index].regex)) {
      // Same detector, possibly another token: keeps the built-in's validation.
      d = builtin_detector(index, std::move(p.replacement));
    } else {
      if (p.regex.empty()) throw Error("PII pattern '" + p.name + "': empty regex");
      d.name = std::move(p.name);
      d.regex = std::move(p.regex);
      d.replacement = std::move(p.replacement);
    }
    auto same = std::find_if(dets.begin(), dets.end(), [&](const Detector& x) { return x.name == d.name; });
    if (same != dets.end()) {
      *same = std::move(d);
    } else {
      dets.push_back(std::move(d));
    }
  }
  for (std::size_t i = 0; i < dets.size(); ++i) {
    Detector& d = dets[i];
    d.re = compile(d.name, d.regex, d.kind != Builtin::none);
    if (d.kind == Builtin::none) {
      impl_->custom.push_back(static_cast<std::uint32_t>(i));
    } else {
      impl_->builtin[static_cast<std::size_t>(d.kind)] = static_cast<int>(i);
    }
  }
  impl_->email_on = impl_->active(Builtin::email) >= 0;
  impl_->key_on = impl_->active(Builtin::api_key) >= 0;
  impl_->numeric_on = impl_->active(Builtin::phone) >= 0 || impl_->active(Builtin::ssn) >= 0 ||
                      impl_->active(Builtin::card) >= 0 || impl_->active(Builtin::ip) >= 0;
  for (int c = 0; c < 256; ++c) {
    const std::uint8_t k = cls(static_cast<unsigned char>(c));
    impl_->trigger[static_cast<std::size_t>(c)] = (impl_->numeric_on && (k & kDigit)) ||
                                                  (impl_->key_on && (k & kKeyStart)) ||
                                                  ((impl_->email_on || impl_->key_on) && c == '@');
  }
  if (impl_->custom.size() >= 2) {
    RE2::Options options;
    options.set_log_errors(false);
    auto set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
    bool ok = true;
    for (std::uint32_t d : impl_->custom) ok = ok && set->Add(dets[d].regex, nullptr) >= 0;
    if (ok && set->Compile()) impl_->custom_set = std::move(set);  // else: every pattern runs
  }
}

PiiMasker::~PiiMasker() = default;
PiiMasker::PiiMasker(PiiMasker&&) noexcept = default;
PiiMasker& PiiMasker::operator=(PiiMasker&&) noexcept = default;

namespace {
[[noreturn]] void moved_from() { throw Error("PiiMasker used after it was moved from"); }
}  // namespace

std::string PiiMasker::mask(std::string_view text) const {
  if (!impl_) moved_from();
  std::string out;
  if (!impl_->mask(text, out)) out.assign(text);
  return out;
}

bool PiiMasker::mask_in_place(std::string& text) const {
  if (!impl_) moved_from();
  return impl_->mask(text, text);
}

void PiiMasker::mask_in_place(Value& value) const {
  if (!impl_) moved_from();
  impl_->mask_value(value);
}

Value PiiMasker::mask(const Value& value) const {
  Value copy = value;
  mask_in_place(copy);
  return copy;
}

std::vector<std::string> PiiMasker::pattern_names() const {
  if (!impl_) moved_from();
  std::vector<std::string> names;
  names.reserve(impl_->detectors.size());
  for (const Detector& d : impl_->detectors) names.push_back(d.name);
  return names;
}

const std::vector<PiiPattern>& PiiMasker::builtin_patterns() { return builtins(); }

}  // namespace synth::tracing
