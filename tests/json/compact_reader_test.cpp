// The reader of our own compact shape (src/json/compact_trace_reader.cpp) reads the text before
// the histories without simdjson. Whatever it accepts it must read exactly as the general reader
// does, and anything else it must leave to the general reader. The general reader's reading is
// had by inserting a space after the first '{', which the compact reader refuses.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "json/session_reading.hpp"
#include "json/trace_json_support.hpp"
#include "json/trace_random.hpp"
#include "synth/tracing.hpp"

namespace {

namespace st = synth::tracing;
using st::SessionTrace;
using st::TraceFormatError;
using synth_test::Rng;

constexpr std::uint64_t kBaseSeed = 0x5eed'c0de'11;
constexpr std::string_view kHistories = ",\"message_history\":[";

st::Timestamp at(std::int64_t seconds) { return st::Timestamp(std::chrono::seconds(1735725600 + seconds)); }

// Shaped like the benchmark's trace (bench/json_bench.cpp), with every event kind and message.
SessionTrace rollout_trace(int steps) {
  SessionTrace t;
  t.session_id = "compact";
  t.created_at = at(0);
  t.session_metadata.push_back({"session_start", {{"experiment", "bench"}, {"seed", 1}}, at(0)});
  for (int i = 0; i < steps; ++i) {
    st::SessionTimeStep step;
    step.step_id = "step_" + std::to_string(i);
    step.step_index = i;
    step.turn_number = i;
    step.timestamp = at(i);
    const st::TimeRecord tr{at(i), i};
    step.events.push_back(st::CAISEvent{.time_record = tr,
                                        .system_instance_id = "agent",
                                        .system_state_before = {{"prompt", "Exits:\n\t\"north\", \xc3\xa9" "ast/"}},
                                        .model_name = "gpt-4o-mini",
                                        .prompt_tokens = 812,
                                        .cost = 0.000144,
                                        .metadata = {{"attempt", i}}});
    step.events.push_back(
        st::RuntimeEvent{.time_record = tr, .system_instance_id = "tools", .actions = {"move_north", -0.0, 1e300}});
    step.events.push_back(st::EnvironmentEvent{.time_record = tr,
                                               .system_instance_id = "env",
                                               .reward = 0.5 * i,
                                               .terminated = false,
                                               .observation_diff = {{"room", i}, {"big", 9007199254740993ull}}});
    step.step_messages.push_back(st::make_message("agent", {{"action", "move_north"}}, "action", i));
    for (const auto& e : step.events) t.event_history.push_back(e);
    for (const auto& m : step.step_messages) t.message_history.push_back(m);
    t.session_time_steps.push_back(std::move(step));
  }
  return t;
}

// True when the compact reader accepts the text before the histories.
bool compact_accepts(const std::string& json) {
  const std::size_t cut = json.find(kHistories);
  if (cut == std::string::npos) return false;
  st::detail::SessionReading s;
  return st::detail::read_compact_prefix(json, s) == cut;
}

// Expects `json` to read as the general reader reads it: the same trace, or the same error.
void expect_same_reading(const std::string& json, const std::string& what) {
  std::string general = json;
  general.insert(1, " ");
  const auto [a, ea] = trace_json_support::read_trace(json);
  const auto [b, eb] = trace_json_support::read_trace(general);
  if (a && b) {
    const std::string ta = a->to_json(), tb = b->to_json();
    if (!(*a == *b) || ta != tb) {
      std::size_t at = 0;
      while (at < ta.size() && at < tb.size() && ta[at] == tb[at]) ++at;
      ADD_FAILURE() << what << ": " << json.substr(at > 40 ? at - 40 : 0, 120) << ": the readings differ from byte " << at << ": " << ta.substr(at, 80) << " | "
                    << tb.substr(at, 80);
    }
  } else if (ea && eb) {
    const std::uint64_t expected = ea->offset() >= 1 ? ea->offset() + 1 : ea->offset();
    EXPECT_TRUE(ea->problem() == eb->problem() && expected == eb->offset())
        << what << ": different errors: " << ea->what() << " | " << eb->what();
  } else {
    ADD_FAILURE() << what << ": one reading failed: " << (ea ? ea->what() : eb->what());
  }
}

// Every \u escape as \t: random strings hold every control character, which our writer escapes
// as \u00XX, and a \u escape is left to the general reader.
std::string without_unicode_escapes(const std::string& json) {
  std::string out;
  for (std::size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '\\' && i + 1 < json.size()) {
      if (json[i + 1] == 'u' && i + 5 < json.size()) {
        out += "\\t";
        i += 5;
      } else {
        out.append(json, i, 2);
        ++i;
      }
    } else {
      out.push_back(json[i]);
    }
  }
  return out;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

TEST(CompactReader, OurWritersTracesAreReadByIt) {
  const SessionTrace t = rollout_trace(3);
  const std::string json = t.to_json();
  EXPECT_TRUE(compact_accepts(json));
  EXPECT_EQ(SessionTrace::from_json(json), t);
  expect_same_reading(json, "rollout trace");
}

TEST(CompactReader, RandomTracesReadAsTheGeneralReaderReadsThem) {
  int accepted = 0;
  for (std::uint64_t i = 0; i < 300; ++i) {
    Rng rng(kBaseSeed + i);
    SessionTrace t = synth_test::random_trace(rng, 4);
    if (i % 2 == 0) synth_test::make_histories_repeat_the_timesteps(t);
    const std::string json = without_unicode_escapes(t.to_json());
    if (compact_accepts(json)) ++accepted;
    expect_same_reading(json, "seed " + std::to_string(kBaseSeed + i));
  }
  EXPECT_GT(accepted, 100);  // numbers beyond its limits leave the rest to the general reader
}

TEST(CompactReader, MutatedValuesReadAsTheGeneralReaderReadsThem) {
  // Empty histories, so that a change anywhere before them still leaves the rest repeated.
  std::vector<std::string> corpus;
  for (std::uint64_t i = 0; corpus.size() < 12; ++i) {
    Rng rng(kBaseSeed + 1000 + i);
    SessionTrace t = synth_test::random_trace(rng, 3);
    t.event_history.clear();
    t.message_history.clear();
    const std::string json = without_unicode_escapes(t.to_json());
    if (compact_accepts(json)) corpus.push_back(json);
  }
  corpus.push_back(rollout_trace(2).to_json());
  static const std::string_view kSnippets[] = {
      "-0", "0", "00", "-", "1e999", "1e-400", "2.5e-310", "1.", ".5", "1E+2", "123456789012345678",
      "1234567890123456789", "18446744073709551615", "\\u0041", "\\/", "\\n", "\\x", "\\", "null", "true",
      "false", "nul", "\x7f", "\xc3\xa9", "\xc3", "\xff", "\x01", "\"", ",", ":", "{", "}", "[", "]", " ",
      "\"2025-02-30T00:00:00\"", "{\"a\":1,\"a\":2}", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1"};
  int accepted = 0;
  for (int i = 0; i < 4000; ++i) {
    Rng rng(kBaseSeed + 50'000 + static_cast<std::uint64_t>(i));
    std::string json = corpus[rng.below(corpus.size())];
    const std::size_t cut = json.find(kHistories);
    const std::size_t pos = 1 + rng.below(cut - 1);
    const std::string_view snippet = kSnippets[rng.below(std::size(kSnippets))];
    if (rng.coin()) {
      json.replace(pos, std::min<std::size_t>(1 + rng.below(3), cut - pos), snippet);
    } else {
      json.insert(pos, snippet);
    }
    if (compact_accepts(json)) ++accepted;
    expect_same_reading(json, "mutation " + std::to_string(i));
  }
  EXPECT_GT(accepted, 100);
}

// Decimals of up to 15 digits take a shortcut (Clinger's: one exact multiplication or division);
// they must read as every other reader reads them.
TEST(CompactReader, ShortDecimalsReadAsTheGeneralReaderReadsThem) {
  Rng rng(kBaseSeed + 77);
  st::Value::Array numbers;
  for (int i = 0; i < 3000; ++i) {
    std::string text = rng.coin() ? "-" : "";
    const int digits = 1 + static_cast<int>(rng.below(15));
    for (int d = 0; d < digits; ++d) text.push_back(static_cast<char>('0' + rng.below(10)));
    text.insert(text.size() - static_cast<std::size_t>(rng.below(static_cast<std::uint64_t>(digits))), ".");
    if (text.front() == '.' || text.starts_with("-.")) text.insert(text.find('.'), "0");
    text += "e" + std::to_string(rng.between(-30, 30));
    double value = 0;
    ASSERT_EQ(std::from_chars(text.data(), text.data() + text.size(), value).ec, std::errc()) << text;
    numbers.emplace_back(value);
  }
  SessionTrace t = rollout_trace(1);
  std::get<st::RuntimeEvent>(t.session_time_steps[0].events[1]).actions = st::Value(numbers);
  t.event_history[1] = t.session_time_steps[0].events[1];
  const std::string json = t.to_json();
  EXPECT_TRUE(compact_accepts(json));
  EXPECT_EQ(SessionTrace::from_json(json).to_json(), json);
  expect_same_reading(json, "short decimals");
}

TEST(CompactReader, NullsWhereOurWriterWritesValues) {
  const std::string json = rollout_trace(2).to_json();
  const std::pair<std::string_view, std::string_view> edits[] = {
      {R"("system_instance_id":"agent")", R"("system_instance_id":null)"},
      {R"("metadata":{"attempt":1})", R"("metadata":null)"},
      {R"("event_metadata":[])", R"("event_metadata":null)"},
      {R"("llm_call_records":[])", R"("llm_call_records":null)"},
      {R"("message_type":"action")", R"("message_type":null)"},
      {R"("turn_number":1)", R"("turn_number":null)"},
      {R"("step_metadata":{})", R"("step_metadata":null)"},
      {R"("message_time":1})", R"("message_time":null})"},
      {R"("cost":0.000144)", R"("cost":144)"},
      {R"("cost":0.000144)", R"("cost":0.1000000000000000000000000000001)"},  // more than 19 digits
      {R"("terminated":false)", R"("terminated":true)"},
  };
  for (const auto& [from, to] : edits) {
    std::string edited = json;
    replace_all(edited, from, to);  // in the timesteps and the histories alike
    ASSERT_NE(edited, json) << from;
    EXPECT_TRUE(compact_accepts(edited)) << to;
    expect_same_reading(edited, std::string(to));
  }
}

// The compact reader reads the caller's text itself (no padded copy): every cut of a trace,
// placed right before a page that may not be read, reads (or fails) without touching that page.
TEST(CompactReader, ReadsNothingPastTheEndOfItsInput) {
  const std::string json = rollout_trace(2).to_json();
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t pages = json.size() / page + 2;
  void* const map = mmap(nullptr, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  char* const guard = static_cast<char*>(map) + (pages - 1) * page;
  ASSERT_EQ(mprotect(guard, page, PROT_NONE), 0);
  int read = 0;
  for (std::size_t length = 0; length <= json.size(); ++length) {
    char* const start = guard - length;
    std::memcpy(start, json.data(), length);
    try {
      (void)SessionTrace::from_json(std::string_view(start, length));
      ++read;
    } catch (const TraceFormatError&) {
    }
  }
  EXPECT_EQ(read, 1);  // the whole text
  munmap(map, pages * page);
}

TEST(CompactReader, HistoryCopyThatDiffersFromItsTimestepCopyIsReadAsWritten) {
  SessionTrace t = rollout_trace(3);
  std::get<st::EnvironmentEvent>(t.event_history[2]).reward = 7.25;
  t.message_history[1].message_type = "edited";
  const std::string json = t.to_json();
  EXPECT_TRUE(compact_accepts(json));
  const SessionTrace back = SessionTrace::from_json(json);
  EXPECT_EQ(back, t);
  EXPECT_EQ(back.to_json(), json);
}

}  // namespace
