// Reading the text before the histories of a trace in exactly the compact shape our writer
// writes, without simdjson: every member in the writer's order, no whitespace. Stage 1 and the
// generic on-demand iteration (a type check and a key dispatch per member) were most of a
// trace's read; here each expected key is one comparison and each value is read as it comes.
// Anything else (another writer's order or keys, whitespace, a \u escape, integers beyond 64
// bits, a problem) stops this reader, and the general one reads the text from the start: what
// this reader accepts it reads exactly as the general reader does (tests/json/compact_reader_test.cpp).
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "json/compact_reader.hpp"
#include "json/session_reading.hpp"

namespace synth::tracing::detail {

namespace {

template <class E>
void read_head(CompactReader& c, E& e) {
  e.time_record = c.time_record();
  c.expect(R"(,"system_instance_id":)");
  if (auto id = c.optional_string()) e.system_instance_id = std::move(*id);
  c.expect(R"(,"system_state_before":)");
  e.system_state_before = c.value();
  c.expect(R"(,"system_state_after":)");
  e.system_state_after = c.value();
}

template <class E>
void read_tail(CompactReader& c, E& e) {
  c.expect(R"(,"metadata":)");
  e.metadata = c.metadata();
  c.expect(R"(,"event_metadata":)");
  e.event_metadata = c.value_list();
  c.expect("}");
}

// A new event of kind E at the end of `events` (made as that kind: not a default CAISEvent
// replaced).
template <class E>
E& add(std::vector<Event>& events) {
  return std::get<E>(events.emplace_back(std::in_place_type<E>));
}

void read_event(CompactReader& c, std::vector<Event>& events) {
  c.expect(R"({"event_type":")");
  if (c.accept(R"(cais","time_record":)")) {
    CAISEvent& e = add<CAISEvent>(events);
    read_head(c, e);
    c.expect(R"(,"llm_call_records":)");
    e.llm_call_records = c.value_list();
    c.expect(R"(,"span_id":)");
    e.span_id = c.optional_string();
    c.expect(R"(,"trace_id":)");
    e.trace_id = c.optional_string();
    c.expect(R"(,"model_name":)");
    e.model_name = c.optional_string();
    c.expect(R"(,"provider":)");
    e.provider = c.optional_string();
    c.expect(R"(,"prompt_tokens":)");
    e.prompt_tokens = c.optional_integer();
    c.expect(R"(,"completion_tokens":)");
    e.completion_tokens = c.optional_integer();
    c.expect(R"(,"total_tokens":)");
    e.total_tokens = c.optional_integer();
    c.expect(R"(,"cached_tokens":)");
    e.cached_tokens = c.optional_integer();
    c.expect(R"(,"cache_write_tokens":)");
    e.cache_write_tokens = c.optional_integer();
    c.expect(R"(,"reasoning_tokens":)");
    e.reasoning_tokens = c.optional_integer();
    c.expect(R"(,"cost":)");
    e.cost = c.optional_number();
    c.expect(R"(,"latency_ms":)");
    e.latency_ms = c.optional_number();
    read_tail(c, e);
  } else if (c.accept(R"(environment","time_record":)")) {
    EnvironmentEvent& e = add<EnvironmentEvent>(events);
    read_head(c, e);
    c.expect(R"(,"reward":)");
    e.reward = c.optional_number();
    c.expect(R"(,"terminated":)");
    e.terminated = c.optional_boolean();
    c.expect(R"(,"truncated":)");
    e.truncated = c.optional_boolean();
    c.expect(R"(,"observation_diff":)");
    e.observation_diff = c.value();
    read_tail(c, e);
  } else {
    c.expect(R"(runtime","time_record":)");
    RuntimeEvent& e = add<RuntimeEvent>(events);
    read_head(c, e);
    c.expect(R"(,"actions":)");
    e.actions = c.value();
    read_tail(c, e);
  }
}

void read_message(CompactReader& c, SessionEventMessage& m) {
  c.expect(R"({"content":)");
  m.content = c.value();
  c.expect(R"(,"timestamp":)");
  m.timestamp = c.timestamp();
  c.expect(R"(,"message_type":)");
  if (auto type = c.optional_string()) m.message_type = std::move(*type);
  c.expect(R"(,"time_record":)");
  m.time_record = c.time_record();
  c.expect("}");
}

// The items of an array, each read by `read_item` into a new element it adds, and its text
// noted in `texts`, for the histories. The vector is reserved at `expected` items (the previous timestep's count: steps of
// a rollout are alike), so that it is usually allocated once and its items never moved.
template <class Item, class ReadItem>
std::vector<Item> read_items(CompactReader& c, std::size_t expected, std::vector<std::string_view>& texts,
                             ReadItem read_item) {
  std::vector<Item> out;
  c.expect("[");
  if (c.accept(']')) return out;
  out.reserve(expected);
  do {
    const char* const begin = c.position();
    read_item(c, out);
    texts.emplace_back(begin, static_cast<std::size_t>(c.position() - begin));
  } while (c.accept(','));
  c.expect("]");
  return out;
}

// `previous`: the timestep before, or null.
void read_timestep(CompactReader& c, SessionTimeStep& step, const SessionTimeStep* previous, ReadTexts& texts) {
  c.expect(R"({"step_id":)");
  step.step_id = std::string(c.string());
  c.expect(R"(,"step_index":)");
  step.step_index = c.integer();
  c.expect(R"(,"turn_number":)");
  step.turn_number = c.optional_integer().value_or(0);
  c.expect(R"(,"events":)");
  step.events = read_items<Event>(c, previous ? previous->events.size() : 0, texts.events,
                                 [](CompactReader& r, std::vector<Event>& events) { read_event(r, events); });
  c.expect(R"(,"step_messages":)");
  step.step_messages = read_items<SessionEventMessage>(c, previous ? previous->step_messages.size() : 0, texts.messages,
                                                       [](CompactReader& r, std::vector<SessionEventMessage>& messages) {
                                                         read_message(r, messages.emplace_back());
                                                       });
  c.expect(R"(,"timestamp":)");
  step.timestamp = c.timestamp();
  c.expect(R"(,"step_metadata":)");
  step.step_metadata = c.metadata();
  c.expect("}");
}

}  // namespace

std::optional<std::size_t> read_compact_prefix(std::string_view text, SessionReading& s) {
  try {
    CompactReader c(text);
    SessionTrace& t = s.t;
    c.expect(R"({"session_id":)");
    t.session_id = std::string(c.string());
    s.have_id = true;
    c.expect(R"(,"session_time_steps":[)");
    if (!c.accept(']')) {
      auto& steps = t.session_time_steps;
      do {
        SessionTimeStep& step = steps.emplace_back();
        read_timestep(c, step, steps.size() > 1 ? &steps[steps.size() - 2] : nullptr, s.texts);
      } while (c.accept(','));
      c.expect("]");
    }
    s.have_steps = true;
    c.expect(R"(,"session_metadata":[)");
    if (!c.accept(']')) {
      do {
        SessionMetadataEntry& m = t.session_metadata.emplace_back();
        c.expect(R"({"metadata_type":)");
        m.metadata_type = std::string(c.string());
        c.expect(R"(,"data":)");
        m.data = c.value();
        c.expect(R"(,"timestamp":)");
        m.timestamp = c.timestamp();
        c.expect("}");
      } while (c.accept(','));
      c.expect("]");
    }
    const std::size_t end = static_cast<std::size_t>(c.position() - text.data());
    if (!c.accept(R"(,"message_history":[)")) return std::nullopt;
    return end;
  } catch (const NotCompact&) {
    return std::nullopt;
  }
}

}  // namespace synth::tracing::detail
