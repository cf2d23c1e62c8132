// PricingTable: model prices read from JSON (the shipped data/pricing.json, compiled in, or a
// user's file), model-id matching, and the cost of one call.
//
// Matching (all on the trimmed, lower-cased id; the first step that finds a model wins):
//   1. the id itself, then the id after the last '/' ("openai/gpt-4o", "models/gemini-2.5-pro"),
//      then, for an OpenAI fine-tune "ft:<base>:<org>:<name>:<id>", its base model, then the id
//      without a leading cloud-vendor prefix ("us.anthropic.claude-sonnet-4-20250514-v1:0").
//   2. For each of those candidates: the exact key; else the key without a dated-snapshot suffix
//      ("-2024-08-06", "-20241022", "-0125", "-latest", "@20241022"); else the longest key that is
//      a prefix of it ending at a boundary: '-', '.', ':', '/', '@' or the end.
//   A boundary right after a key ending in a digit is not taken when what follows is a minor
//   version ("-5", ".1", "-32k": '-' or '.' then one or two digits, not all zeros): otherwise
//   "claude-opus-4-5" would be priced as claude-opus-4 (three times too much) and "gpt-4.5" or
//   "gpt-5.2" as gpt-4 / gpt-5. Dates and snapshots ("gpt-4-0613", "-20250514") have 4+ digits.
//   Fine-tunes: a fine-tune resolves to the table's "ft:<base>" entry (OpenAI bills inference on
//   fine-tuned models above the base price) when there is one, else to the base model itself.
//
// Cost: cached_tokens and cache_write_tokens are parts of prompt_tokens, reasoning_tokens part of
// completion_tokens; each token is priced once, at its own rate. Nonsense counts are clamped:
// negative counts count as 0; when cached + cache_write exceed prompt_tokens, prompt_tokens is
// taken to be their sum (every token reported in a bucket is billed, none twice), and likewise
// completion_tokens is at least reasoning_tokens. Full double precision: no rounding.
#include "synth/tracing/cost.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <string>
#include <utility>

#include "diagnostics.hpp"
#include "file_io.hpp"
#include "json/reader.hpp"
#include "synth/tracing/error.hpp"
#include "text.hpp"

namespace synth::tracing::detail {
extern const std::string_view kBuiltinPricingJson;
}  // namespace synth::tracing::detail

namespace synth::tracing {

namespace {

using detail::JsonReader;
namespace od = simdjson::ondemand;

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alpha(char c) noexcept { return c >= 'a' && c <= 'z'; }

std::string normalize(std::string_view id) { return detail::ascii_lower(detail::trim_blanks(id)); }

bool all_digits(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_digit(c); });
}

// The id without one dated-snapshot suffix, or the id itself when it has none.
std::string_view strip_snapshot(std::string_view s) noexcept {
  constexpr std::string_view kLatest = "-latest";
  if (s.size() > kLatest.size() && s.ends_with(kLatest)) return s.substr(0, s.size() - kLatest.size());
  if (const auto at = s.rfind('@'); at != std::string_view::npos && at > 0) {
    const std::string_view tail = s.substr(at + 1);
    if (tail == "latest" || all_digits(tail)) return s.substr(0, at);
  }
  // -YYYY-MM-DD
  if (s.size() > 11) {
    const std::string_view t = s.substr(s.size() - 11);
    if (t[0] == '-' && all_digits(t.substr(1, 4)) && t[5] == '-' && all_digits(t.substr(6, 2)) && t[8] == '-' &&
        all_digits(t.substr(9, 2))) {
      return s.substr(0, s.size() - 11);
    }
  }
  // -YYYYMMDD, and the 4-digit snapshots (-0613, -0125, Mistral's -2411): a '-' and 4 or 8 digits.
  if (const auto dash = s.rfind('-'); dash != std::string_view::npos && dash > 0) {
    const std::string_view tail = s.substr(dash + 1);
    if ((tail.size() == 4 || tail.size() == 8) && all_digits(tail)) return s.substr(0, dash);
  }
  return s;
}

// True when `s` may be priced as its prefix of length `n` (see the header comment).
bool ends_at_boundary(std::string_view s, std::size_t n) noexcept {
  if (n == s.size()) return true;
  const char c = s[n];
  if (c != '-' && c != '.' && c != ':' && c != '/' && c != '@') return false;
  if ((c == '-' || c == '.') && n > 0 && is_digit(s[n - 1])) {
    std::size_t end = n + 1;
    while (end < s.size() && is_digit(s[end])) ++end;
    const std::string_view run = s.substr(n + 1, end - n - 1);
    const bool all_zero = std::all_of(run.begin(), run.end(), [](char d) { return d == '0'; });
    if ((run.size() == 1 || run.size() == 2) && !all_zero) return false;  // a minor version
  }
  return true;
}

// "ft:gpt-4o-mini-2024-07-18:org:name:id" -> "gpt-4o-mini-2024-07-18"; "" when not a fine-tune.
std::string_view fine_tune_base(std::string_view s) noexcept {
  if (!s.starts_with("ft:")) return {};
  s.remove_prefix(3);
  return s.substr(0, s.find(':'));
}

// "us.anthropic.claude-..." -> "claude-...": leading all-letter segments each followed by '.'.
std::string_view strip_vendor_prefix(std::string_view s) noexcept {
  std::size_t pos = 0;
  for (;;) {
    std::size_t end = pos;
    while (end < s.size() && is_alpha(s[end])) ++end;
    if (end == pos || end >= s.size() || s[end] != '.') break;
    pos = end + 1;
  }
  return s.substr(pos);
}

// --- reading ---

bool is_valid_date(std::string_view s) noexcept {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  if (!all_digits(s.substr(0, 4)) || !all_digits(s.substr(5, 2)) || !all_digits(s.substr(8, 2))) return false;
  const auto number = [](std::string_view digits) {
    int n = 0;
    for (char c : digits) n = n * 10 + (c - '0');
    return n;
  };
  const int y = number(s.substr(0, 4));
  const int m = number(s.substr(5, 2));
  const int d = number(s.substr(8, 2));
  if (y < 1970 || m < 1 || m > 12 || d < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

std::string_view type_phrase(od::json_type type) noexcept {
  switch (type) {
    case od::json_type::object:
      return "an object";
    case od::json_type::array:
      return "an array";
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::number:
      return "a number";
    case od::json_type::null:
      return "null";
  }
  return "an unknown token";
}

// A price: a finite, non-negative number. Null only where `optional`.
std::optional<double> read_price(JsonReader& r, od::value v, bool optional) {
  const std::string_view token = v.raw_json_token();
  const char* where = token.data();
  const od::json_type type = v.type();
  if (type == od::json_type::null) {
    if (optional) return std::nullopt;
    r.fail_at(where, "expected a price (a number of USD per million tokens), found null");
  }
  if (type != od::json_type::number) {
    r.fail_at(where, std::string("expected a price (a number of USD per million tokens") +
                         (optional ? ") or null" : ")") + ", found " + std::string(type_phrase(type)));
  }
  const std::optional<double> price = r.optional_number(v);
  if (price && !(*price >= 0)) {
    std::string_view text = token;
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    r.fail_at(where, "a price must not be negative, found " + std::string(text));
  }
  return price;
}

ModelPrice read_model(JsonReader& r, od::value v, std::string id) {
  const char* where = v.raw_json_token().data();
  ModelPrice p;
  p.model = std::move(id);
  bool have_input = false;
  bool have_output = false;
  for (auto field : r.object(v)) {
    const std::string_view key = field.unescaped_key();
    JsonReader::Path path(r, key);
    od::value fv = field.value();
    if (key == "input") {
      p.input = *read_price(r, fv, false);
      have_input = true;
    } else if (key == "output") {
      p.output = *read_price(r, fv, false);
      have_output = true;
    } else if (key == "cached_input") {
      p.cached_input = read_price(r, fv, true);
    } else if (key == "cache_write") {
      p.cache_write = read_price(r, fv, true);
    } else if (key == "note") {
      (void)r.optional_string(fv);
    } else {
      // A misspelt rate would otherwise be ignored and its tokens priced at the input rate.
      r.fail(fv,
             "unknown field \"" + std::string(key) + "\" (expected input, output, cached_input, cache_write or note)");
    }
  }
  if (!have_input) r.fail_at(where, "model \"" + p.model + "\" has no \"input\" price");
  if (!have_output) r.fail_at(where, "model \"" + p.model + "\" has no \"output\" price");
  return p;
}

}  // namespace

struct PricingTable::Impl {
  std::string as_of;
  std::map<std::string, ModelPrice, std::less<>> models;

  const ModelPrice* exact(std::string_view id) const {
    const auto it = models.find(id);
    return it == models.end() ? nullptr : &it->second;
  }

  const ModelPrice* resolve(std::string_view s) const {
    if (s.empty()) return nullptr;
    if (const auto* p = exact(s)) return p;
    if (const auto stripped = strip_snapshot(s); stripped.size() != s.size()) {
      if (const auto* p = exact(stripped)) return p;
    }
    for (std::size_t n = s.size() - 1; n > 0; --n) {
      if (!ends_at_boundary(s, n)) continue;
      if (const auto* p = exact(s.substr(0, n))) return p;
    }
    return nullptr;
  }

  const ModelPrice* find(std::string_view model) const {
    const std::string id = normalize(model);
    if (id.empty()) return nullptr;
    if (const auto* p = exact(id)) return p;  // also a user's entry for one exact fine-tune id
    std::string_view s = id;
    if (const auto slash = s.rfind('/'); slash != std::string_view::npos) s.remove_prefix(slash + 1);
    if (const auto base = fine_tune_base(s); !base.empty()) {
      // The base first, then its "ft:" entry: a prefix match on the whole "ft:..." id could
      // price a gpt-4o-mini fine-tune as "ft:gpt-4o".
      const ModelPrice* p = resolve(base);
      if (p == nullptr) return nullptr;
      const ModelPrice* tuned = exact("ft:" + p->model);
      return tuned != nullptr ? tuned : p;
    }
    if (const auto* p = resolve(id)) return p;
    if (s.size() != id.size()) {
      if (const auto* p = resolve(s)) return p;
    }
    if (const auto bare = strip_vendor_prefix(s); bare.size() != s.size()) return resolve(bare);
    return nullptr;
  }

  /// A moved-from table has no Impl; it reads as an empty table.
  static const Impl& of(const std::unique_ptr<Impl>& impl) noexcept {
    static const Impl empty;
    return impl ? *impl : empty;
  }
};

PricingTable::PricingTable() : impl_(std::make_unique<Impl>()) {}
PricingTable::~PricingTable() = default;
PricingTable::PricingTable(const PricingTable& other) : impl_(std::make_unique<Impl>(Impl::of(other.impl_))) {}
PricingTable& PricingTable::operator=(const PricingTable& other) {
  if (this != &other) impl_ = std::make_unique<Impl>(Impl::of(other.impl_));
  return *this;
}
// A moved-from table holds no Impl and reads as an empty table (Impl::of).
PricingTable::PricingTable(PricingTable&& other) noexcept = default;
PricingTable& PricingTable::operator=(PricingTable&& other) noexcept = default;

PricingTable PricingTable::from_json(std::string_view text, std::string_view source) {
  JsonReader r(text, source);
  PricingTable table;
  Impl& impl = *table.impl_;
  r.read_object([&](od::value root) {
    const char* where = root.raw_json_token().data();
    bool have_as_of = false;
    bool have_models = false;
    for (auto field : root.get_object()) {
      const std::string_view key = field.unescaped_key();
      JsonReader::Path path(r, key);
      od::value fv = field.value();
      if (key == "as_of") {
        const char* at = fv.raw_json_token().data();
        impl.as_of = r.string(fv);
        if (!is_valid_date(impl.as_of)) {
          r.fail_at(at, "expected the date the prices were checked as YYYY-MM-DD, found \"" + impl.as_of + "\"");
        }
        have_as_of = true;
      } else if (key == "currency") {
        const char* at = fv.raw_json_token().data();
        if (const std::string c = r.string(fv); c != "USD") {
          r.fail_at(at, "unsupported currency \"" + c + "\" (prices must be in USD)");
        }
      } else if (key == "unit") {
        const char* at = fv.raw_json_token().data();
        if (const std::string u = r.string(fv); u != "per_million_tokens") {
          r.fail_at(at, "unsupported unit \"" + u + "\" (prices must be per_million_tokens)");
        }
      } else if (key == "models") {
        for (auto model : r.object(fv)) {
          const std::string_view raw_id = model.unescaped_key();
          JsonReader::Path model_path(r, raw_id);
          od::value mv = model.value();
          std::string id = normalize(raw_id);
          if (id.empty()) r.fail(mv, "empty model id");
          if (impl.models.contains(id)) {
            r.fail(mv, "model \"" + id + "\" is listed twice (ids are compared case-insensitively)");
          }
          ModelPrice price = read_model(r, mv, id);
          impl.models.emplace(std::move(id), std::move(price));
        }
        have_models = true;
      } else {
        r.skip(fv);  // "notes", "source", ...: documentation
      }
    }
    if (!have_as_of) r.fail_at(where, "missing \"as_of\" (the date the prices were checked, YYYY-MM-DD)");
    if (!have_models) r.fail_at(where, "missing \"models\"");
    return 0;
  });
  return table;
}

PricingTable PricingTable::load_file(const std::filesystem::path& path) {
  const std::string text = detail::read_whole_file(path);
  return from_json(text, path.string());
}

const PricingTable& PricingTable::builtin() {
  static const PricingTable table = [] {
    try {
      return from_json(detail::kBuiltinPricingJson, "built-in data/pricing.json");
    } catch (...) {
      // Cannot happen with the shipped file (a test loads it); never fail a traced program for it.
      detail::report("synth-tracing: the built-in pricing table is unusable, costs are unknown: " +
                     detail::current_exception_text());
      return PricingTable();
    }
  }();
  return table;
}

PricingTable PricingTable::merged_with(const PricingTable& other) const {
  PricingTable out(*this);
  const Impl& theirs_impl = Impl::of(other.impl_);
  for (const auto& [id, price] : theirs_impl.models) out.impl_->models.insert_or_assign(id, price);
  // The merged prices were all checked by the earlier of the two dates.
  const std::string& theirs = theirs_impl.as_of;
  if (out.impl_->as_of.empty() || (!theirs.empty() && theirs < out.impl_->as_of)) out.impl_->as_of = theirs;
  return out;
}

const ModelPrice* PricingTable::find(std::string_view model) const { return Impl::of(impl_).find(model); }

std::optional<double> PricingTable::cost(std::string_view model, const TokenUsage& usage) const {
  const ModelPrice* p = find(model);
  if (p == nullptr) return std::nullopt;
  const auto count = [](std::int64_t n) { return n > 0 ? static_cast<double>(n) : 0.0; };
  const double cached = count(usage.cached_tokens);
  const double written = count(usage.cache_write_tokens);
  const double prompt = std::max(count(usage.prompt_tokens), cached + written);
  const double completion = std::max(count(usage.completion_tokens), count(usage.reasoning_tokens));
  // Sum in USD per million, divide once: exact for the original's expectations (0.015, ...).
  const double per_million = (prompt - cached - written) * p->input + cached * p->cached_input.value_or(p->input) +
                             written * p->cache_write.value_or(p->input) + completion * p->output;
  return per_million / 1e6;
}

const std::string& PricingTable::as_of() const noexcept { return Impl::of(impl_).as_of; }

std::vector<std::string> PricingTable::models() const {
  std::vector<std::string> out;
  const Impl& impl = Impl::of(impl_);
  out.reserve(impl.models.size());
  for (const auto& entry : impl.models) out.push_back(entry.first);
  return out;
}

std::optional<double> calculate_cost(std::string_view model, const TokenUsage& usage) {
  return PricingTable::builtin().cost(model, usage);
}

}  // namespace synth::tracing
