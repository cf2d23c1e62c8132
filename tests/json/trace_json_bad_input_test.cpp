// SessionTrace <-> JSON: a corpus of bad inputs, missing files, nesting limits, a mutation fuzzer,
// and reading in parts agreeing with reading whole.
#include "json/trace_json_support.hpp"

namespace {

using namespace trace_json_support;

// ------------------------------------------------------------------------------------------
// 4. Bad input
// ------------------------------------------------------------------------------------------

struct BadCase {
  const char* file;
  /// Must occur in problem().
  const char* fragment;
  /// Text expected at offset(); "<end>" for the end of the file; nullptr to skip.
  const char* at;
};

// clang-format off
const BadCase kBadCases[] = {
  // malformed JSON
  {"empty.json", "no JSON value", "<end>"},
  {"whitespace_only.json", "no JSON value", "<end>"},
  {"top_level_array.json", "expected a JSON object at the top level, found an array", "["},
  {"top_level_string.json", "expected a JSON object at the top level, found a string", "\"s-1\""},
  {"top_level_null.json", "expected a JSON object at the top level, found null", "null"},
  // Text that only starts like a literal or a number is malformed, not "found null" / "a number".
  {"top_level_not_a_literal.json", "invalid literal", "nothing"},
  {"top_level_truncated_null.json", "invalid literal", "nul"},
  {"top_level_starts_like_true.json", "invalid literal", "trueish"},
  {"top_level_starts_like_number.json", "malformed number", "12abc"},
  {"trailing_comma.json", "malformed JSON", "}"},
  {"missing_comma.json", "malformed JSON", "\"session_time_steps\""},
  {"single_quotes.json", "malformed JSON", "'session_id'"},
  {"unquoted_key.json", "malformed JSON", "session_id:"},
  {"comment.json", "malformed JSON", "// a comment"},
  {"bad_literal.json", "session_time_steps[0].events[0].system_state_before.ok: invalid literal", "tru}"},
  {"nan_literal.json", "session_time_steps[0].events[0].reward: malformed JSON", "NaN"},
  {"infinity_literal.json", "system_state_before.x: malformed number", "-Infinity"},
  {"leading_zero.json", "prompt_tokens: expected an integer in 64-bit range, found 012", "012"},
  {"bad_escape.json", "session_time_steps[0].events[0].model_name: malformed string", "\"gpt\\x4\""},
  {"short_unicode_escape.json", "model_name: malformed string", "\"gpt\\u12\""},
  {"mismatched_brackets.json", "extra[2]: malformed JSON", "}}"},
  {"double_comma.json", "malformed JSON", ", \"event_history\""},
  {"missing_value.json", "created_at: malformed JSON", "}"},
  {"raw_tab_in_string.json", "control character inside a string must be escaped", "\t10:00:00"},
  {"nul_in_string.json", "control character inside a string must be escaped", nullptr},
  {"nul_after_value.json", "unexpected content after the JSON value", nullptr},
  {"nul_before_value.json", "malformed JSON", nullptr},
  {"trailing_garbage.json", "unexpected content after the JSON value", "xyz"},
  {"two_objects.json", "unexpected content after the JSON value", "{\"session_id\": \"s-2\"}"},
  // truncated
  {"truncated_mid_string.json", "unexpected end of input: the JSON is truncated", "<end>"},
  {"truncated_mid_number.json", "unexpected end of input: the JSON is truncated", "<end>"},
  {"truncated_mid_object.json", "unexpected end of input: the JSON is truncated", "<end>"},
  {"truncated_after_key.json", "unexpected end of input: the JSON is truncated", "<end>"},
  {"truncated_mid_escape.json", "unexpected end of input: the JSON is truncated", "<end>"},
  // invalid UTF-8: the offset is the first bad byte
  {"invalid_utf8_value.json", "invalid UTF-8", "\xFF"},
  {"invalid_utf8_key.json", "invalid UTF-8", "\x80ion"},
  {"overlong_utf8.json", "invalid UTF-8", "\xC0\xAF"},
  {"utf8_encoded_surrogate.json", "invalid UTF-8", "\xED\xA0\x80"},
  {"utf8_above_max.json", "invalid UTF-8", "\xF4\x90\x80\x80"},
  {"utf8_truncated_sequence.json", "invalid UTF-8", "\xE2\x82\""},
  // numbers
  {"huge_integer_tokens.json", "session_time_steps[0].events[0].prompt_tokens: expected an integer in 64-bit range, found 123456789012345678901234567890", "123456789012345678901234567890"},
  {"uint64_overflow_tokens.json", "total_tokens: expected an integer in 64-bit range, found 18446744073709551616", "18446744073709551616"},
  {"huge_integer_in_state.json", "system_state_before.n: integer does not fit in 64 bits", "123456789012345678901234567890"},
  {"number_1e999_cost.json", "session_time_steps[0].events[0].cost: number out of range", "1e999"},
  {"number_1e999_in_metadata.json", "metadata.x: number out of range", "-1e999"},
  {"fractional_tokens.json", "prompt_tokens: expected an integer in 64-bit range, found 12.5", "12.5"},
  {"epoch_out_of_range.json", "time_record.event_time: epoch-seconds timestamp out of range", "1e300"},
  // wrong types for typed fields
  {"session_id_number.json", "session_id: expected a string, found the number 42", "42"},
  {"session_id_null.json", "session_id: expected a string, found null", "null"},
  {"timesteps_object.json", "session_time_steps: expected an array, found an object", "{\"step_id\""},
  {"readme_timesteps_string.json", "timesteps: expected an array, found a string", "\"none\""},
  {"events_string.json", "session_time_steps[0].events: expected an array, found a string", "\"oops\""},
  {"event_not_object.json", "event_history[0]: expected an object, found a string", "\"cais\""},
  {"prompt_tokens_string.json", "session_time_steps[0].events[0].prompt_tokens: expected an integer, found a string", "\"12\""},
  {"reward_string.json", "session_time_steps[0].events[0].reward: expected a number or null, found a string", "\"1.0\""},
  {"terminated_number.json", "session_time_steps[0].events[0].terminated: expected true, false or null, found the number 1", "1"},
  {"time_record_array.json", "session_time_steps[0].events[0].time_record: expected an object, found an array", "[\"2025"},
  {"event_time_garbage.json", "time_record.event_time: invalid timestamp \"yesterday at noon\"", "\"yesterday"},
  {"event_time_boolean.json", "time_record.event_time: expected a timestamp (ISO-8601 string, epoch seconds or null), found a boolean", "true"},
  {"message_time_string.json", "time_record.message_time: expected an integer, found a string", "\"0\""},
  {"unknown_event_type.json", "events[0].event_type: unknown event_type \"llm_call\"", "\"llm_call\""},
  {"event_type_number.json", "events[0].event_type: expected a string, found the number 3", "3"},
  {"mixed_kinds_declared.json", "session_time_steps[0].events[0]: an environment field in a runtime event", "1.0"},
  {"mixed_kinds_inferred.json", "session_time_steps[0].events[0]: an environment field in a cais event", "false"},
  {"event_metadata_list_object.json", "events[0].event_metadata: expected an array, found an object", "{\"hook\""},
  {"system_instance_id_number.json", "system_instance_id: expected a string or null, found the number 7", "7"},
  {"step_id_boolean.json", "session_time_steps[0].step_id: expected a string, found a boolean", "true"},
  {"step_index_fraction.json", "session_time_steps[0].step_index: expected an integer in 64-bit range, found 1.5", "1.5"},
  {"message_invalid_date.json", "message_history[0].timestamp: invalid timestamp \"2025-02-30T10:00:00\"", "\"2025-02-30"},
  {"message_history_object.json", "message_history: expected an array, found an object", "{\"content\""},
  {"session_metadata_entry_number.json", "session_metadata[0]: expected an object, found the number 5", "5"},
  {"metadata_type_null.json", "session_metadata[0].metadata_type: expected a string, found null", "null"},
  {"created_at_month_13.json", "created_at: invalid timestamp \"2025-13-01T00:00:00\"", "\"2025-13-01"},
  // nesting
  {"deeply_nested_arrays.json", "JSON nested deeper than 1024 levels", "["},
  {"deeply_nested_objects.json", "JSON nested deeper than 1024 levels", "{\"a\":"},
};
// clang-format on

// Escaped lone surrogates are valid JSON syntax but not Unicode: reading may either accept them
// (replacing them) or reject them, but must not crash. (simdjson 3.0.1 rejects them.)
const char* const kMayParse[] = {
    "lone_high_surrogate_escape.json",
    "lone_low_surrogate_escape.json",
    "reversed_surrogate_pair_escape.json",
};

// line and column must describe `offset` within `content`.
void expect_position_consistent(const TraceFormatError& e, std::string_view content, const std::string& context) {
  ASSERT_LE(e.offset(), content.size()) << context;
  std::uint64_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < e.offset(); ++i) {
    if (content[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  EXPECT_EQ(e.line(), line) << context;
  EXPECT_EQ(e.column(), e.offset() - line_start + 1) << context;
}

TEST(TraceJsonBadInput, CorpusRaisesTraceFormatError) {
  EXPECT_GE(std::size(kBadCases), 25u);
  for (const BadCase& c : kBadCases) {
    SCOPED_TRACE(c.file);
    const fs::path path = data_path(std::string("bad/") + c.file);
    ASSERT_TRUE(fs::exists(path)) << path;
    const std::string content = synth::tracing::testing::file_contents(path);
    try {
      const SessionTrace t = SessionTrace::read_file(path);
      ADD_FAILURE() << c.file << " was accepted (session_id \"" << t.session_id << "\")";
    } catch (const TraceFormatError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(c.file), std::string::npos) << "what() does not name the file: " << what;
      EXPECT_EQ(e.source(), path.string());
      EXPECT_NE(e.problem().find(c.fragment), std::string::npos)
          << "problem: " << e.problem() << "\nexpected to contain: " << c.fragment;
      EXPECT_EQ(e.problem().find('\n'), std::string::npos) << "problem spans lines: " << e.problem();
      EXPECT_NE(what.find(e.problem()), std::string::npos);
      EXPECT_GE(e.line(), 1u);
      EXPECT_GE(e.column(), 1u);
      EXPECT_NE(what.find(":" + std::to_string(e.line()) + ":" + std::to_string(e.column())), std::string::npos)
          << what;
      expect_position_consistent(e, content, c.file);
      if (c.at != nullptr && e.offset() <= content.size()) {
        if (std::string_view(c.at) == "<end>") {
          EXPECT_EQ(e.offset(), content.size()) << "expected the error at the end of the file";
        } else {
          EXPECT_EQ(content.substr(e.offset(), std::strlen(c.at)), c.at)
              << "offset " << e.offset() << " points at: " << content.substr(e.offset(), 30);
        }
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.file << ": threw something other than TraceFormatError: " << e.what();
    }
  }
}

TEST(TraceJsonBadInput, LoneSurrogateEscapesDoNotCrash) {
  for (const char* file : kMayParse) {
    SCOPED_TRACE(file);
    const fs::path path = data_path(std::string("bad/") + file);
    ASSERT_TRUE(fs::exists(path));
    try {
      const SessionTrace t = SessionTrace::read_file(path);
      // Accepted: whatever was stored must still be writable as valid UTF-8 JSON.
      EXPECT_EQ(t.session_id.rfind("s-", 0), 0u);
      EXPECT_NO_THROW((void)nlohmann::json::parse(t.to_json()).dump());
    } catch (const TraceFormatError& e) {
      EXPECT_NE(e.problem().find("session_id"), std::string::npos) << e.problem();
      expect_position_consistent(e, synth::tracing::testing::file_contents(path), file);
    }
  }
}

TEST(TraceJsonBadInput, EveryCorpusFileIsChecked) {
  std::set<std::string> known;
  for (const BadCase& c : kBadCases) EXPECT_TRUE(known.insert(c.file).second) << "listed twice: " << c.file;
  for (const char* f : kMayParse) known.insert(f);
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(data_path("bad"))) {
    ++files;
    EXPECT_TRUE(known.count(entry.path().filename().string()) == 1)
        << entry.path().filename() << " is in tests/data/bad but not in the test table";
  }
  EXPECT_EQ(files, known.size()) << "a table entry has no file";
}

TEST(TraceJsonBadInput, MissingFileIsNamed) {
  const fs::path path = data_path("bad/no_such_trace_file.json");
  ASSERT_FALSE(fs::exists(path));
  try {
    (void)SessionTrace::read_file(path);
    FAIL() << "read_file of a missing file returned";
  } catch (const TraceFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_trace_file.json"), std::string::npos) << e.what();
    EXPECT_EQ(e.source(), path.string());
    EXPECT_NE(e.problem().find("cannot open"), std::string::npos) << e.problem();
    EXPECT_EQ(e.line(), 0u);
  }
}

TEST(TraceJsonBadInput, DirectoryIsNotATrace) {
  const fs::path path = data_path("bad");
  try {
    (void)SessionTrace::read_file(path);
    FAIL() << "read_file of a directory returned";
  } catch (const TraceFormatError& e) {
    EXPECT_EQ(e.source(), path.string());
  }
}

TEST(TraceJsonBadInput, ErrorsFromStringsNameTheSource) {
  try {
    (void)SessionTrace::from_json(R"({"session_id": 1})", "upload.json");
    FAIL();
  } catch (const TraceFormatError& e) {
    EXPECT_EQ(e.source(), "upload.json");
    EXPECT_EQ(std::string(e.what()).rfind("upload.json:1:16 (byte 15): ", 0), 0u) << e.what();
  }
  try {
    (void)SessionTrace::from_json("{");
    FAIL();
  } catch (const TraceFormatError& e) {
    EXPECT_EQ(e.source(), "<string>");
  }
}

// A value nested inside a trace is rejected at the depth where writing it back would fail, so
// every trace that can be read can also be written.
TEST(TraceJsonBadInput, NestingLimitMatchesTheWriter) {
  const auto nested_state = [](int levels) {
    return R"({"session_id":"d","event_history":[{"system_state_before":)" + std::string(levels, '[') +
           std::string(levels, ']') + "}]}";
  };
  int deepest_read = 0;
  for (int levels = 1010; levels <= 1030; ++levels) {
    try {
      const SessionTrace t = SessionTrace::from_json(nested_state(levels));
      deepest_read = levels;
      EXPECT_NO_THROW((void)t.to_json()) << levels << " levels were read but cannot be written";
    } catch (const TraceFormatError& e) {
      EXPECT_NE(e.problem().find("nested deeper than 1024"), std::string::npos) << e.problem();
    }
  }
  EXPECT_GE(deepest_read, 1015);
  EXPECT_LT(deepest_read, 1030);

  // A bare value: the deepest one Value::dump writes (1024 levels) reads back.
  const std::string deepest = std::string(1024, '[') + std::string(1024, ']');
  Value v;
  ASSERT_NO_THROW(v = Value::parse(deepest));
  EXPECT_EQ(v.dump(), deepest);
  EXPECT_THROW((void)Value::parse("[" + deepest + "]"), TraceFormatError);
}

// Mutation fuzzing: from_json either returns or throws TraceFormatError.
std::string mutate(Rng& rng, std::string s) {
  static const std::string_view kSnippets[] = {
      "{", "}", "[", "]", "\"", ",", ":", "\\", "\\u", "\\ud800", "\\u0000", "null", "true", "-", "1e999",
      "123456789012345678901234567890", "0.5", "\"event_type\":\"runtime\",", "\"reward\":", "\x80", "\xC3",
      "\xF0\x9F", std::string_view("\0", 1), " ", "\n", "[[[[[[[[", "}}}}", "\"2025-02-30T00:00:00\"",
  };
  const int ops = 1 + static_cast<int>(rng.below(4));
  for (int k = 0; k < ops; ++k) {
    const std::size_t pos = s.empty() ? 0 : rng.below(s.size());
    switch (rng.below(8)) {
      case 0:  // flip a bit
        if (!s.empty()) s[pos] = static_cast<char>(s[pos] ^ (1 << rng.below(8)));
        break;
      case 1:  // random byte
        if (!s.empty()) s[pos] = static_cast<char>(rng.below(256));
        break;
      case 2:  // truncate
        s.resize(pos);
        break;
      case 3: {  // delete a range
        const std::size_t n = std::min<std::size_t>(rng.below(16) + 1, s.size() - std::min(pos, s.size()));
        s.erase(std::min(pos, s.size()), n);
        break;
      }
      case 4:
      case 5: {  // insert a snippet
        const auto& snippet = kSnippets[rng.below(std::size(kSnippets))];
        s.insert(std::min(pos, s.size()), snippet.data(), snippet.size());
        break;
      }
      case 6: {  // duplicate a range
        const std::size_t from = s.empty() ? 0 : rng.below(s.size());
        const std::size_t n = std::min<std::size_t>(rng.below(40), s.size() - from);
        const std::string piece = s.substr(from, n);
        s.insert(std::min(pos, s.size()), piece);
        break;
      }
      default: {  // swap two bytes
        if (s.size() > 1) std::swap(s[pos], s[rng.below(s.size())]);
        break;
      }
    }
  }
  return s;
}

TEST(TraceJsonBadInput, MutationFuzzNeverCrashes) {
  std::vector<std::string> corpus = {
      synth::tracing::testing::file_contents(data_path("python/section_1e_example.json")),
      synth::tracing::testing::file_contents(data_path("python/env_runtime_session.json")),
      synth::tracing::testing::file_contents(data_path("python/abstractions_events.json")),
      synth::tracing::testing::file_contents(data_path("readme_shape/with_histories.json")),
  };
  for (std::uint64_t i = 0; i < 6; ++i) {
    Rng rng(kBaseSeed + 777 + i);
    const SessionTrace t = synth_test::random_trace(rng, 3);
    corpus.push_back(t.to_json(JsonFormat{i % 2 == 0 ? -1 : 2}));
  }
  constexpr int kMutations = 5000;
  int parsed = 0;
  int rejected = 0;
  int failures = 0;
  for (int i = 0; i < kMutations && failures < 5; ++i) {
    const std::uint64_t seed = kBaseSeed + 100'000 + static_cast<std::uint64_t>(i);
    Rng rng(seed);
    const std::string& base = corpus[rng.below(corpus.size())];
    const std::string input = mutate(rng, base);
    try {
      const SessionTrace t = SessionTrace::from_json(input, "fuzz.json");
      ++parsed;
      // Whatever was accepted must be writable, and stable after one round trip.
      const std::string json = t.to_json();
      const SessionTrace again = SessionTrace::from_json(json);
      if (again.to_json() != json) {
        ++failures;
        ADD_FAILURE() << "seed " << seed << ": accepted input is not stable after a round trip";
      }
    } catch (const TraceFormatError& e) {
      ++rejected;
      if (e.offset() > input.size() || e.line() < 1 || e.column() < 1 || e.source() != "fuzz.json") {
        ++failures;
        ADD_FAILURE() << "seed " << seed << ": bad error position: " << e.what() << " (input size "
                      << input.size() << ")";
      }
    } catch (const std::exception& e) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << ": unexpected exception: " << e.what();
    } catch (...) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << ": unexpected non-std exception";
    }
  }
  // Both outcomes must actually occur, or the mutations are not doing their job.
  EXPECT_GT(parsed, 50);
  EXPECT_GT(rejected, 1000);
  RecordProperty("parsed", parsed);
  RecordProperty("rejected", rejected);
}

// Compact text with a `,"message_history":[` is read in parts (the text before it indexed alone,
// the rest checked against the timesteps or read as an object of its own); a space after that
// comma (the same JSON) makes it read whole. Both readings must agree on every input: the same
// trace, or the same error at the same place (one byte further on after the space).
TEST(TraceJsonBadInput, ReadingInPartsMatchesReadingWhole) {
  std::vector<std::string> corpus;
  for (std::uint64_t i = 0; i < 12; ++i) {
    Rng rng(kBaseSeed + 4242 + i);
    SessionTrace t = synth_test::random_trace(rng, 4);
    if (i % 2 == 0) synth_test::make_histories_repeat_the_timesteps(t);
    corpus.push_back(t.to_json());
  }
  const std::string needle = ",\"message_history\":[";
  int compared = 0, both_read = 0, both_rejected = 0, failures = 0;
  for (int i = 0; i < 4000 && failures < 5; ++i) {
    const std::uint64_t seed = kBaseSeed + 300'000 + static_cast<std::uint64_t>(i);
    Rng rng(seed);
    const std::string& base = corpus[rng.below(corpus.size())];
    std::string input = i % 4 == 0 ? base : mutate(rng, base);
    if (const std::size_t tail = base.find(needle); i % 4 == 1 && tail != std::string::npos) {
      // A change in the part that is compared rather than indexed, or text after the end.
      input = base;
      const std::size_t pos = tail + 1 + rng.below(input.size() - tail - 1);
      const char bytes[] = {' ', ',', ']', '}', '{', '"', '\\', 'x', '0', '\xff', '\n', '\0'};
      switch (rng.below(4)) {
        case 0:
          input[pos] = bytes[rng.below(sizeof bytes)];
          break;
        case 1:
          input.insert(pos, 1, bytes[rng.below(sizeof bytes)]);
          break;
        case 2:
          input.erase(pos, 1);
          break;
        default:
          input.push_back(bytes[rng.below(sizeof bytes)]);
      }
    }
    const std::size_t at = input.find(needle);
    if (at == std::string::npos) continue;
    std::string whole = input;
    whole.insert(at + 1, " ");
    ++compared;
    const auto [a, ea] = read_trace(input);
    const auto [b, eb] = read_trace(whole);
    if (a && b) {
      ++both_read;
      if (!(*a == *b) || a->to_json() != b->to_json()) {
        ++failures;
        ADD_FAILURE() << "seed " << seed << ": the two readings give different traces";
      }
    } else if (ea && eb) {
      ++both_rejected;
      const std::uint64_t expected = ea->offset() > at ? ea->offset() + 1 : ea->offset();
      if (ea->problem() != eb->problem() || expected != eb->offset() || ea->line() != eb->line()) {
        ++failures;
        ADD_FAILURE() << "seed " << seed << ": different errors: " << ea->what() << " | " << eb->what();
      }
    } else {
      ++failures;
      ADD_FAILURE() << "seed " << seed << ": one reading failed: " << (ea ? ea->what() : eb->what());
    }
  }
  EXPECT_GT(both_read, 200);
  EXPECT_GT(both_rejected, 500);
  RecordProperty("compared", compared);
}

}  // namespace
