// PII masking throughput and latency.
//
//   (a) BM_MaskCorpus: a ~10 MB mixed corpus shaped like dependencies.md §2 (prose; ~1% of the
//       words are PII items: emails, US phones in 4 formats, SSNs, Luhn-valid 16-digit cards with
//       space/dash/no separators, plus a few API keys and IPs; ~1.5% near-misses: 5-digit numbers,
//       v1.23.4, 12:34, id-12345678). Built here with a fixed seed. Target >= 300 MB/s.
//       BM_MaskProse: the same prose without any digit, '@' or key marker (the pre-scan alone).
//   (b) BM_Message/*: 200-byte messages, one at a time (1,024 different ones, rotated): with one
//       PII item, with none (prose), with none but numbers in it. Target <= 2 us each.
//   (c) BM_MaskValue*: a typical agent state object (~1 KB as JSON, 14 strings, 2 with PII).
//   (d) What the tracer masks per rollout step: BM_MaskTracerIds (the scopes' hex span and trace
//       ids), BM_MaskRolloutPrompt (the policy call's 200-byte prompt).
//
// Run: pii_bench --benchmark_repetitions=9 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "synth/tracing/json.hpp"
#include "synth/tracing/pii.hpp"

namespace {

using synth::tracing::PiiMasker;
using synth::tracing::Value;

const PiiMasker& masker() {
  static const PiiMasker m;
  return m;
}

class Gen {
 public:
  explicit Gen(std::uint64_t seed) : rng_(seed) {}
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  double real() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  std::string digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + uniform(0, 9)));
    return s;
  }
  const std::string& word() {
    static const std::vector<std::string> words{
        "the", "agent", "moved", "north", "and", "found", "a", "key", "in", "room", "then", "it", "asked", "user",
        "for", "help", "with", "task", "model", "returned", "answer", "after", "thinking", "about", "plan", "step",
        "tool", "call", "result", "was", "not", "what", "we", "expected", "so", "retry", "happened", "quickly",
        "environment", "reward", "episode", "ended", "when", "door", "opened", "inventory", "contains", "sword",
        "shield", "potion", "of", "to", "is", "that", "this", "from", "by", "on", "as", "are", "be", "have", "has",
        "report", "summary", "please", "review", "attached", "document", "before", "meeting", "tomorrow", "morning",
        "customer", "account", "balance", "payment", "refund", "order", "shipping", "address", "delivery", "status",
        "Observation:", "Action:", "Thought:", "assistant", "system", "message", "content", "response", "latency"};
    return words[static_cast<std::size_t>(uniform(0, static_cast<int>(words.size()) - 1))];
  }
  std::string card16() {
    std::string d = "4" + digits(14);
    for (char c = '0'; c <= '9'; ++c) {
      std::string x = d + c;
      int sum = 0;
      for (std::size_t i = 0; i < 16; ++i) {
        int v = x[15 - i] - '0';
        if (i % 2 == 1) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
        sum += v;
      }
      if (sum % 10 == 0) {
        const int style = uniform(0, 2);
        if (style == 0) return x;
        const char sep = style == 1 ? ' ' : '-';
        return x.substr(0, 4) + sep + x.substr(4, 4) + sep + x.substr(8, 4) + sep + x.substr(12, 4);
      }
    }
    return d + "0";
  }
  std::string pii() {
    const std::string a = std::to_string(uniform(200, 999)), b = std::to_string(uniform(200, 999)), c = digits(4);
    switch (uniform(0, 9)) {
      case 0:
      case 1: return "user" + std::to_string(uniform(1, 99999)) + "@example.com";
      case 2: return "(" + a + ") " + b + "-" + c;
      case 3: return a + "-" + b + "-" + c;
      case 4: return a + "." + b + "." + c;
      case 5: return "+1 " + a + " " + b + " " + c;
      case 6: return std::to_string(uniform(100, 665)) + "-" + std::to_string(uniform(10, 99)) + "-" + std::to_string(uniform(1000, 9999));
      case 7:
      case 8: return card16();
      default:
        return uniform(0, 1) ? "sk-proj-" + digits(8) + "abcdefghABCDEFGH" + digits(8)
                             : "10." + std::to_string(uniform(0, 255)) + "." + std::to_string(uniform(0, 255)) + ".7";
    }
  }
  std::string near_miss() {
    switch (uniform(0, 3)) {
      case 0: return digits(5);
      case 1: return "v1." + std::to_string(uniform(0, 99)) + "." + std::to_string(uniform(0, 9));
      case 2: return std::to_string(uniform(10, 23)) + ":" + std::to_string(uniform(10, 59));
      default: return "id-" + digits(8);
    }
  }
  // Prose; PII and near-misses at the given rates per word; lines of 8-25 words.
  std::string text(std::size_t bytes, double pii_rate, double near_rate) {
    std::string out;
    out.reserve(bytes + 256);
    int left_in_line = uniform(8, 25);
    while (out.size() < bytes) {
      const double r = real();
      if (r < pii_rate) {
        out += pii();
      } else if (r < pii_rate + near_rate) {
        out += near_miss();
      } else {
        out += word();
      }
      if (--left_in_line == 0) {
        out += ".\n";
        left_in_line = uniform(8, 25);
      } else {
        out += ' ';
      }
    }
    return out;
  }

 private:
  std::mt19937_64 rng_;
};

const std::string& corpus() {
  static const std::string text = Gen(42).text(10'500'000, 0.010, 0.015);
  return text;
}

const std::string& prose() {
  static const std::string text = Gen(43).text(10'500'000, 0, 0);
  return text;
}

void BM_MaskCorpus(benchmark::State& state) {
  const std::string& text = corpus();
  for (auto _ : state) {
    std::string out = masker().mask(std::string_view(text));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_MaskCorpus)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_MaskProse(benchmark::State& state) {
  const std::string& text = prose();
  for (auto _ : state) {
    std::string out = masker().mask(std::string_view(text));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_MaskProse)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same prose through mask_in_place: nothing found, so no copy and no allocation; the pre-scan.
void BM_ScanProseInPlace(benchmark::State& state) {
  std::string text = prose();
  for (auto _ : state) {
    bool changed = masker().mask_in_place(text);
    benchmark::DoNotOptimize(changed);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_ScanProseInPlace)->Unit(benchmark::kMillisecond)->UseRealTime();

// 200-byte messages: prose with one PII item (kind 0), none (1), or near-miss numbers only (2).
std::vector<std::string> messages(int kind) {
  Gen g(static_cast<std::uint64_t>(100 + kind));
  std::vector<std::string> out;
  for (int i = 0; i < 1024; ++i) {
    std::string m;
    const int item_at = g.uniform(0, 15);
    for (int w = 0; m.size() < 200; ++w) {
      if (kind == 0 && w == item_at) {
        m += g.pii();
      } else if (kind == 2 && w % 6 == 3) {
        m += g.near_miss();
      } else {
        m += g.word();
      }
      m += ' ';
    }
    m.resize(200);
    if (kind == 0 && masker().mask(std::string_view(m)) == m) {  // the item was cut off: put it first
      m = g.pii() + " " + m;
      m.resize(200);
    }
    out.push_back(std::move(m));
  }
  return out;
}

void BM_Message(benchmark::State& state) {
  const std::vector<std::string> msgs = messages(static_cast<int>(state.range(0)));
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& m = msgs[i++ & 1023];
    std::string out = masker().mask(std::string_view(m));
    benchmark::DoNotOptimize(out.data());
    bytes += m.size();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.SetLabel(state.range(0) == 0 ? "one PII item" : state.range(0) == 1 ? "no PII, prose" : "no PII, numbers");
}
BENCHMARK(BM_Message)->Arg(0)->Arg(1)->Arg(2);
// Two threads sharing one masker (RE2 objects are shared; their DFA caches take a lock).
BENCHMARK(BM_Message)->Arg(0)->Threads(2)->UseRealTime();

// mask_in_place on a message that holds nothing: the allocation-free path.
void BM_MessageInPlaceClean(benchmark::State& state) {
  std::vector<std::string> msgs = messages(static_cast<int>(state.range(0)));
  std::size_t i = 0;
  for (auto _ : state) {
    bool changed = masker().mask_in_place(msgs[i++ & 1023]);
    benchmark::DoNotOptimize(changed);
  }
  state.SetLabel(state.range(0) == 1 ? "prose" : "numbers");
}
BENCHMARK(BM_MessageInPlaceClean)->Arg(1)->Arg(2);

// The span and trace ids of the scopes' events (lower-case hex, 16 and 32 digits), in place as the
// tracer masks an event's metadata: nothing found, per id.
void BM_MaskTracerIds(benchmark::State& state) {
  std::mt19937_64 rng(7);
  std::vector<std::string> ids;
  for (int i = 0; i < 1024; ++i) {
    char hex[33];
    std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    ids.emplace_back(hex, i % 3 == 0 ? 32 : 16);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    bool changed = masker().mask_in_place(ids[i++ & 1023]);
    benchmark::DoNotOptimize(changed);
  }
}
BENCHMARK(BM_MaskTracerIds);

// The rollout benchmark's prompt (bench/rollout_bench.cpp: 200 bytes, one email), in place on a
// fresh copy as the sink thread masks each step's request.
void BM_MaskRolloutPrompt(benchmark::State& state) {
  for (auto _ : state) {
    std::string prompt = synth_bench::kPrompt;
    bool changed = masker().mask_in_place(prompt);
    benchmark::DoNotOptimize(changed);
  }
}
BENCHMARK(BM_MaskRolloutPrompt);

Value state_object() {
  return Value{
      {"observation",
       {{"room", "kitchen"},
        {"visible_objects", {"table", "knife", "apple", "door to the north"}},
        {"inventory", {"sword", "shield"}},
        {"health", 87},
        {"position", {3, 4}},
        {"text", "You are in a kitchen. A note on the table reads: call Bob at 555-987-6543 about the key."}}},
      {"action", "move_north"},
      {"reward", 1.5},
      {"done", false},
      {"messages",
       {{{"role", "system"}, {"content", "You are an agent exploring a text adventure. Be concise."}},
        {{"role", "user"}, {"content", "What do you do next? My email is player.one@example.com if you need it."}},
        {{"role", "assistant"}, {"content", "I will move north through the door and look for the key."}}}},
      {"metadata", {{"model", "gpt-4o-mini"}, {"latency_ms", 412.5}, {"turn", 17}, {"session", "a3f9c2e1-episode-17"}}}};
}

void BM_MaskValueCopy(benchmark::State& state) {
  const Value v = state_object();
  for (auto _ : state) {
    Value out = masker().mask(v);
    benchmark::DoNotOptimize(&out);
  }
  state.SetLabel(std::to_string(v.dump().size()) + " B of JSON");
}
BENCHMARK(BM_MaskValueCopy);

// In place on an object whose strings hold no PII (already masked): the scan alone.
void BM_MaskValueInPlaceClean(benchmark::State& state) {
  Value v = masker().mask(state_object());
  for (auto _ : state) {
    masker().mask_in_place(v);
    benchmark::DoNotOptimize(&v);
  }
}
BENCHMARK(BM_MaskValueInPlaceClean);

// Copying the object without masking, for reference.
void BM_CopyValue(benchmark::State& state) {
  const Value v = state_object();
  for (auto _ : state) {
    Value out = v;
    benchmark::DoNotOptimize(&out);
  }
}
BENCHMARK(BM_CopyValue);

}  // namespace
