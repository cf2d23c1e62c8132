// PiiMasker scored for precision and recall on a labelled corpus (built here, seeded): items of
// every kind in varied contexts, and near-misses that must be kept.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "pii_fixture.hpp"
#include "synth/tracing/pii.hpp"

namespace synth::tracing {
namespace {

using namespace pii_fixture;

// ---- labelled corpus ----

enum Kind { kEmail, kPhone, kSsn, kCard, kApiKey, kIp, kKinds };
const char* const kKindNames[kKinds] = {"email", "phone", "ssn", "credit_card", "api_key", "ip"};
const char* const kKindTokens[kKinds] = {"[EMAIL]", "[PHONE]", "[SSN]", "[CREDIT_CARD]", "[API_KEY]", "[IP]"};

struct Sample {
  std::string text;
  std::size_t start, end;  // the item (or near-miss) inside text
  int kind;                // Kind, or -1 for a near-miss
  std::string category;
};

class CorpusGenerator {
 public:
  explicit CorpusGenerator(std::uint64_t seed) : rng_(seed) {}

  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[static_cast<std::size_t>(uniform(0, static_cast<int>(v.size()) - 1))]; }
  std::string digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + uniform(0, 9)));
    return s;
  }
  std::string chars(int n, const std::string& alphabet) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(alphabet[static_cast<std::size_t>(uniform(0, static_cast<int>(alphabet.size()) - 1))]);
    return s;
  }
  static int luhn_sum(const std::string& d) {
    int sum = 0;
    bool twice = false;
    for (std::size_t i = d.size(); i-- > 0;) {
      int x = d[i] - '0';
      if (twice) x = x * 2 > 9 ? x * 2 - 9 : x * 2;
      sum += x;
      twice = !twice;
    }
    return sum;
  }
  // Digits of a card (Luhn-valid when `valid`).
  std::string card_digits(const std::string& prefix, int length, bool valid) {
    std::string d = prefix + digits(length - static_cast<int>(prefix.size()) - 1);
    for (int check = 0; check <= 9; ++check) {
      std::string c = d + static_cast<char>('0' + check);
      if ((luhn_sum(c) % 10 == 0) == valid) return c;
    }
    return d + "0";
  }
  // Groups the digits: none, 4-4-4-4 style (short tail merged), or 4-6-5 for 15.
  std::string group(const std::string& d, char sep) {
    if (sep == 0) return d;
    std::vector<int> sizes;
    if (d.size() == 15 && uniform(0, 1) == 0) {
      sizes = {4, 6, 5};
    } else if (d.size() == 14 && uniform(0, 1) == 0) {
      sizes = {4, 6, 4};
    } else {
      int left = static_cast<int>(d.size());
      while (left > 0) {
        int g = left >= 4 ? 4 : left;
        if (left - g > 0 && left - g < 3 && uniform(0, 1) == 0) g = left;  // 4-4-5 rather than 4-4-4-1
        sizes.push_back(g);
        left -= g;
      }
    }
    std::string out;
    std::size_t pos = 0;
    for (int s : sizes) {
      if (!out.empty()) out.push_back(sep);
      out += d.substr(pos, static_cast<std::size_t>(s));
      pos += static_cast<std::size_t>(s);
    }
    return out;
  }

  std::string email() {
    static const std::vector<std::string> first{"john", "mary", "wei", "olga", "amit", "sara", "j", "dev", "ops", "Li"};
    static const std::vector<std::string> domains{"example.com", "mail.example.org", "corp.io", "uni.ac.uk", "x-y.net",
                                                  "firma.de", "Example.COM", "a.co"};
    std::string local = pick(first);
    switch (uniform(0, 4)) {
      case 0: local += "." + pick(first); break;
      case 1: local += digits(uniform(1, 4)); break;
      case 2: local += "+" + pick(first); break;
      case 3: local += "_" + pick(first); break;
      default: break;
    }
    return local + "@" + pick(domains);
  }
  std::string nxx() { return std::to_string(uniform(2, 9)) + digits(2); }
  std::string phone() {
    const std::string a = nxx(), b = nxx(), c = digits(4);
    switch (uniform(0, 15)) {
      case 0: return "(" + a + ") " + b + "-" + c;
      case 1: return a + "." + b + "." + c;
      case 2: return a + "-" + b + "-" + c;
      case 3: return a + " " + b + " " + c;
      case 4: return "+1-" + a + "-" + b + "-" + c;
      case 5: return "+1 " + a + " " + b + " " + c;
      case 6: return "+1 (" + a + ") " + b + "-" + c;
      case 7: return "1-" + a + "-" + b + "-" + c;
      case 8: return "+44 20 " + digits(4) + " " + digits(4);
      case 9: return "+33 " + std::to_string(uniform(1, 9)) + " " + digits(2) + " " + digits(2) + " " + digits(2) + " " + digits(2);
      case 10: return "+49 30 " + digits(7);
      case 11: return "+91 9" + digits(4) + " " + digits(5);
      case 12: return "+81 3-" + digits(4) + "-" + digits(4);
      case 13: return "+61 2 " + digits(4) + " " + digits(4);
      case 14: return "+86138" + digits(8);
      default: return "(" + a + ")" + b + "-" + c;
    }
  }
  std::string ssn_digits() {
    int area;
    do area = uniform(1, 899);
    while (area == 666);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%03d%02d%04d", area, uniform(1, 99), uniform(1, 9999));
    return buf;
  }
  std::string card() {
    struct Net {
      std::string prefix;
      std::vector<int> lengths;
    };
    static const std::vector<Net> nets{{"4", {13, 16, 19}}, {"51", {16}},   {"55", {16}},        {"2221", {16}},
                                       {"34", {15}},        {"37", {15}},   {"6011", {16, 19}},  {"65", {16}},
                                       {"3528", {16, 17, 18, 19}},          {"36", {14}},        {"62", {16, 17, 18, 19}},
                                       {"5018", {16, 18, 19}}, {"1", {15}}, {"81", {16}}};
    const Net& net = pick(nets);
    const std::string d = card_digits(net.prefix, pick(net.lengths), true);
    static const std::vector<char> seps{0, ' ', '-'};
    return group(d, pick(seps));
  }
  std::string api_key() {
    static const std::string alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static const std::string url = alnum + "_-";
    switch (uniform(0, 7)) {
      case 0: return "sk-" + chars(48, alnum);
      case 1: return "sk-proj-" + chars(uniform(40, 120), url);
      case 2: return "sk-ant-api03-" + chars(93, url) + "AA";
      case 3: return "ghp_" + chars(36, alnum);
      case 4: return "AKIA" + chars(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
      case 5: return "xoxb-" + digits(12) + "-" + digits(13) + "-" + chars(24, alnum);
      case 6: return "github_pat_11" + chars(20, alnum) + "_" + chars(59, alnum);
      default: return "sk_live_" + chars(24, alnum);
    }
  }
  std::string bearer_token() {
    static const std::string b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if (uniform(0, 1) == 0) return "eyJ" + chars(30, b64) + "." + chars(60, b64) + "." + chars(43, b64);
    return chars(40, "0123456789abcdef");
  }
  std::string ip() {
    return std::to_string(uniform(1, 255)) + "." + std::to_string(uniform(0, 255)) + "." + std::to_string(uniform(0, 255)) +
           "." + std::to_string(uniform(0, 255));
  }

  // A near-miss and its category.
  std::pair<std::string, std::string> near_miss() {
    char buf[64];
    switch (uniform(0, 30)) {
      case 0: return {"v" + std::to_string(uniform(0, 9)) + "." + std::to_string(uniform(0, 30)) + "." + std::to_string(uniform(0, 30)), "version"};
      case 1: return {"v" + std::to_string(uniform(1, 9)) + "." + std::to_string(uniform(0, 9)) + "." + std::to_string(uniform(0, 9)) + "." + std::to_string(uniform(0, 9)), "version"};
      case 2: return {"version " + std::to_string(uniform(1, 20)) + "." + std::to_string(uniform(0, 9)) + "." + std::to_string(uniform(0, 99)) + "." + std::to_string(uniform(0, 255)), "version"};
      case 3: return {std::to_string(uniform(1, 9)) + "." + std::to_string(uniform(0, 9)) + "." + std::to_string(uniform(0, 9)) + "." + std::to_string(uniform(0, 9)) + "." + std::to_string(uniform(0, 9)), "version"};
      case 4: std::snprintf(buf, sizeof buf, "20%02d-%02d-%02d", uniform(0, 30), uniform(1, 12), uniform(1, 28)); return {buf, "date"};
      case 5: std::snprintf(buf, sizeof buf, "%02d/%02d/20%02d", uniform(1, 28), uniform(1, 12), uniform(0, 30)); return {buf, "date"};
      case 6: std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", uniform(0, 23), uniform(0, 59), uniform(0, 59)); return {buf, "time"};
      case 7: std::snprintf(buf, sizeof buf, "%02d:%02d", uniform(0, 23), uniform(0, 59)); return {buf, "time"};
      case 8: return {"ORD-20" + digits(6) + "-" + digits(4), "order id"};
      case 9: return {"#" + digits(uniform(5, 12)), "order id"};
      case 10: return {"id-" + digits(8), "order id"};
      case 11: {  // 16-digit non-Luhn, any separator style
        static const std::vector<std::string> prefixes{"4", "51", "6011", "37", "1", "9"};
        static const std::vector<char> seps{0, ' ', '-'};
        return {group(card_digits(pick(prefixes), 16, false), pick(seps)), "16-digit non-Luhn"};
      }
      case 12: {  // invalid SSNs
        static const std::vector<std::string> areas{"000", "666", "9" + digits(2)};
        switch (uniform(0, 4)) {
          case 0: return {pick(areas) + "-" + digits(2) + "-" + std::to_string(uniform(1000, 9999)), "invalid SSN"};
          case 1: return {std::to_string(uniform(100, 665)) + "-00-" + std::to_string(uniform(1000, 9999)), "invalid SSN"};
          case 2: return {std::to_string(uniform(100, 665)) + "-" + std::to_string(uniform(10, 99)) + "-0000", "invalid SSN"};
          case 3: return {std::to_string(uniform(100, 665)) + "-" + std::to_string(uniform(10, 99)) + " " + std::to_string(uniform(1000, 9999)), "invalid SSN"};
          default: return {pick(areas) + " " + digits(2) + " " + std::to_string(uniform(1000, 9999)), "invalid SSN"};
        }
      }
      case 13: return {std::to_string(uniform(256, 999)) + "." + std::to_string(uniform(0, 255)) + "." + std::to_string(uniform(0, 255)) + "." + std::to_string(uniform(0, 255)), "bad IP"};
      case 14: return {std::to_string(uniform(1, 255)) + "." + std::to_string(uniform(0, 255)) + "." + std::to_string(uniform(0, 255)) + "." + std::to_string(uniform(256, 999)), "bad IP"};
      case 15: std::snprintf(buf, sizeof buf, "$%d,%03d.%02d", uniform(1, 999), uniform(0, 999), uniform(0, 99)); return {buf, "price"};
      case 16: std::snprintf(buf, sizeof buf, "%d.%02d EUR", uniform(1, 9999), uniform(0, 99)); return {buf, "price"};
      case 17: return {nxx() + "-" + digits(4), "short phone-like"};
      case 18: return {"ext. " + digits(4), "short phone-like"};
      case 19: return {"+" + digits(uniform(1, 4)), "short phone-like"};
      case 20: return {"17" + digits(11), "ms timestamp"};
      case 21: return {"17" + digits(8), "unix timestamp"};
      case 22: return {std::to_string(uniform(1, 9)) + digits(8), "bare 9 digits"};
      case 23: {
        static const std::vector<std::string> words{"the bearer of bad news", "sk-learn", "@channel", "ops@localhost",
                                                    "AKIA", "ghp_", "Bearer responsibilities"};
        return {pick(words), "key/email-like"};
      }
      case 24: {
        static const std::string hex = "0123456789abcdef";
        return {chars(8, hex) + "-" + chars(4, hex) + "-4" + chars(3, hex) + "-a" + chars(3, hex) + "-" + chars(12, hex), "uuid"};
      }
      case 25: return {std::to_string(uniform(2, 99)) + " items", "small number"};
      case 26: return {std::to_string(uniform(1, 9)) + "." + std::to_string(uniform(0, 20)) + "." + std::to_string(uniform(0, 20)), "version"};
      case 27: return {"978-" + std::to_string(uniform(0, 9)) + "-" + digits(3) + "-" + digits(5) + "-" + std::to_string(uniform(0, 9)), "ISBN"};
      case 28: std::snprintf(buf, sizeof buf, "%d.%04d, -%d.%04d", uniform(10, 60), uniform(0, 9999), uniform(10, 179), uniform(0, 9999)); return {buf, "coordinates"};
      case 29: std::snprintf(buf, sizeof buf, "2024-%02d-%02d %02d:%02d:%02d.%03d", uniform(1, 12), uniform(1, 28), uniform(0, 23), uniform(0, 59), uniform(0, 59), uniform(0, 999)); return {buf, "timestamp"};
      default: return {"page " + std::to_string(uniform(1, 400)) + " of " + std::to_string(uniform(400, 900)), "small number"};
    }
  }

  Sample sentence(const std::string& item, int kind, const std::string& category, const std::string& forced_prefix = "") {
    static const std::vector<std::pair<std::string, std::string>> templates{
        {"Please contact ", " for details."}, {"The value was ", " yesterday."},
        {"Send it to ", " and wait for a reply."}, {"Reference: ", " (see ticket)."},
        {"", " was logged by the agent."}, {"Tool output: ", ""},
        {"User wrote \"", "\" in the chat."}, {"step=3 observation='", "' reward=0.5"},
        {"The assistant replied with ", ", then stopped."}, {"Noted: ", "."}};
    auto [pre, post] = pick(templates);
    if (!forced_prefix.empty()) pre = forced_prefix;
    Sample s;
    s.text = pre + item + post;
    s.start = pre.size();
    s.end = pre.size() + item.size();
    s.kind = kind;
    s.category = category;
    return s;
  }

  Sample item() {
    const int kind = uniform(0, kKinds - 1);
    switch (kind) {
      case kEmail: return sentence(email(), kind, "email");
      case kPhone: return sentence(phone(), kind, "phone");
      case kSsn: {
        const std::string d = ssn_digits();
        switch (uniform(0, 4)) {
          case 0: return sentence(d.substr(0, 3) + " " + d.substr(3, 2) + " " + d.substr(5), kind, "ssn");
          case 1: return sentence(d, kind, "ssn", uniform(0, 1) ? "SSN: " : "Her SSN is ");
          default: return sentence(d.substr(0, 3) + "-" + d.substr(3, 2) + "-" + d.substr(5), kind, "ssn");
        }
      }
      case kCard: return sentence(card(), kind, "credit_card");
      case kApiKey:
        if (uniform(0, 3) == 0) return sentence(bearer_token(), kind, "api_key", "Authorization: Bearer ");
        return sentence(api_key(), kind, "api_key");
      default: return sentence(ip(), kind, "ip");
    }
  }

 private:
  std::mt19937_64 rng_;
};

// Which bytes of `in` were replaced by a token in `out`, and by which token (empty: kept).
// Tokens are "[...]"; the corpus holds no brackets, so the kept pieces of `out` are verbatim
// pieces of `in`, in order: the first is a prefix, the last a suffix.
std::vector<std::string> masked_bytes(const std::string& in, const std::string& out) {
  struct Piece {
    bool token;
    std::string text;
  };
  std::vector<Piece> pieces;
  for (std::size_t i = 0; i < out.size();) {
    if (out[i] == '[') {
      const std::size_t close = out.find(']', i);
      EXPECT_NE(close, std::string::npos) << out;
      pieces.push_back({true, out.substr(i, close - i + 1)});
      i = close + 1;
    } else {
      const std::size_t next = std::min(out.find('[', i), out.size());
      pieces.push_back({false, out.substr(i, next - i)});
      i = next;
    }
  }
  std::vector<std::string> owner(in.size());
  std::size_t pos = 0;  // first byte of `in` not yet explained
  std::string pending;  // token(s) covering the gap before the next kept piece
  for (std::size_t k = 0; k < pieces.size(); ++k) {
    if (pieces[k].token) {
      if (pending.empty()) pending = pieces[k].text;
      continue;
    }
    const std::string& lit = pieces[k].text;
    std::size_t at;
    if (pending.empty()) {
      at = pos;
    } else if (k + 1 == pieces.size()) {
      at = in.size() - lit.size();
    } else {
      at = in.find(lit, pos + 1);
    }
    EXPECT_TRUE(at != std::string::npos && at >= pos && in.compare(at, lit.size(), lit) == 0) << in << " -> " << out;
    if (at == std::string::npos || at < pos) return owner;
    for (std::size_t b = pos; b < at; ++b) owner[b] = pending;
    pending.clear();
    pos = at + lit.size();
  }
  for (std::size_t b = pos; b < in.size(); ++b) owner[b] = pending.empty() ? "?" : pending;
  return owner;
}

TEST(PiiCorpus, PrecisionAndRecall) {
  CorpusGenerator gen(20261124);
  std::vector<Sample> samples;
  for (int i = 0; i < 3000; ++i) samples.push_back(gen.item());
  for (int i = 0; i < 3000; ++i) {
    auto [text, category] = gen.near_miss();
    samples.push_back(gen.sentence(text, -1, category));
  }

  struct Counts {
    int items = 0, recalled = 0, partial = 0, wrong_label = 0, false_positives = 0;
  };
  std::array<Counts, kKinds> per_kind{};
  std::map<std::string, std::pair<int, int>> near_miss_categories;  // category -> {count, masked}
  int near_misses = 0, collateral = 0;
  std::vector<std::string> failures;

  for (const Sample& s : samples) {
    const std::string out = masked(masker(), s.text);
    const std::vector<std::string> owner = masked_bytes(s.text, out);
    std::size_t masked = 0;
    for (std::size_t b = s.start; b < s.end; ++b) masked += !owner[b].empty();
    for (std::size_t b = 0; b < s.text.size(); ++b)
      if ((b < s.start || b >= s.end) && !owner[b].empty()) ++collateral;
    const std::size_t length = s.end - s.start;
    if (s.kind >= 0) {
      Counts& c = per_kind[static_cast<std::size_t>(s.kind)];
      ++c.items;
      if (masked == length) {
        ++c.recalled;
        if (owner[s.start] != kKindTokens[s.kind]) ++c.wrong_label;
      } else {
        if (masked > 0) ++c.partial;
        if (failures.size() < 20) failures.push_back("missed " + std::string(kKindNames[s.kind]) + ": " + s.text + " -> " + out);
      }
    } else {
      ++near_misses;
      auto& cat = near_miss_categories[s.category];
      ++cat.first;
      if (masked > 0) {
        ++cat.second;
        std::string token;
        for (std::size_t b = s.start; b < s.end && token.empty(); ++b) token = owner[b];
        for (int k = 0; k < kKinds; ++k)
          if (token == kKindTokens[k]) ++per_kind[static_cast<std::size_t>(k)].false_positives;
        if (failures.size() < 20) failures.push_back("false positive (" + s.category + "): " + s.text + " -> " + out);
      }
    }
  }

  int items = 0, recalled = 0, fps = 0;
  std::printf("\n%-12s %6s %9s %7s %6s %10s %8s\n", "detector", "items", "recalled", "partial", "FP", "precision", "recall");
  for (int k = 0; k < kKinds; ++k) {
    const Counts& c = per_kind[static_cast<std::size_t>(k)];
    items += c.items;
    recalled += c.recalled;
    fps += c.false_positives;
    const double precision = c.recalled + c.false_positives == 0 ? 1.0 : double(c.recalled) / (c.recalled + c.false_positives);
    std::printf("%-12s %6d %9d %7d %6d %10.4f %8.4f\n", kKindNames[k], c.items, c.recalled, c.partial, c.false_positives,
                precision, c.items == 0 ? 1.0 : double(c.recalled) / c.items);
    EXPECT_EQ(c.wrong_label, 0) << kKindNames[k];
  }
  const double precision = double(recalled) / (recalled + fps);
  const double recall = double(recalled) / items;
  std::printf("%-12s %6d %9d %7s %6d %10.4f %8.4f\n", "overall", items, recalled, "", fps, precision, recall);
  std::printf("near-misses: %d in %zu categories, masked:", near_misses, near_miss_categories.size());
  for (const auto& [category, c] : near_miss_categories) std::printf(" %s %d/%d;", category.c_str(), c.second, c.first);
  std::printf("\nbytes masked outside items: %d\n", collateral);
  for (const auto& f : failures) std::printf("  %s\n", f.c_str());

  EXPECT_GE(items, 2000);
  EXPECT_GE(recall, 0.99);
  EXPECT_GE(precision, 0.98);
  EXPECT_EQ(collateral, 0);
}

}  // namespace
}  // namespace synth::tracing
