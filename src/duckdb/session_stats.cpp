#include "duckdb/session_stats.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <type_traits>

namespace synth::tracing::detail::duck {

namespace {

std::optional<std::int64_t> micros_of(Timestamp t) {
  if (t.time_since_epoch().count() == 0) return std::nullopt;  // stored as NULL
  return to_micros(t);
}

// Integer sums saturate: token counts and times near the int64 limit (a provider's nonsense)
// must not overflow (undefined behaviour).
std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t total = 0;
  if (__builtin_add_overflow(a, b, &total)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  }
  return total;
}

template <class T>
void add_to(std::optional<T>& sum, const std::optional<T>& value) {
  if (!value) return;
  if constexpr (std::is_integral_v<T>) {
    sum = saturating_add(sum.value_or(T{}), *value);
  } else {
    sum = sum.value_or(T{}) + *value;
  }
}

void keep_min(std::optional<std::int64_t>& kept, std::optional<std::int64_t> value) {
  if (value && (!kept || *value < *kept)) kept = value;
}

void keep_max(std::optional<std::int64_t>& kept, std::optional<std::int64_t> value) {
  if (value && (!kept || *value > *kept)) kept = value;
}

void add_distinct(std::vector<std::string>& list, const std::string& item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

// TRY_CAST(json_extract_string(metadata, '$.duration_ms') AS DOUBLE).
std::optional<double> duration_of(const Value& metadata) {
  const Value* d = metadata.is_object() ? metadata.find("duration_ms") : nullptr;
  if (d == nullptr) return std::nullopt;
  if (d->is_number()) return d->as_double();
  if (!d->is_string()) return std::nullopt;
  const std::string& text = d->as_string();
  double value = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// left(text, 200): the first 200 characters (UTF-8 code points).
std::string first_characters(std::string text, std::size_t count) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && chars++ == count) {
      text.resize(i);
      break;
    }
  }
  return text;
}

// COALESCE(json_extract_string(content, '$.payload'), CAST(content AS VARCHAR)), cut.
std::optional<std::string> preview_of(const Value& content) {
  if (content.is_null()) return std::nullopt;
  const Value* payload = content.is_object() ? content.find("payload") : nullptr;
  if (payload != nullptr && !payload->is_null()) {
    return first_characters(payload->is_string() ? payload->as_string() : payload->dump(), 200);
  }
  return first_characters(content.dump(), 200);
}

// The first and the last message by (timestamp, id): a message without a timestamp only when none
// has one. `a_at`/`a_id` against `b_at`/`b_id`.
bool comes_first(std::optional<std::int64_t> a_at, std::int64_t a_id, std::optional<std::int64_t> b_at, std::int64_t b_id) {
  if (a_at.has_value() != b_at.has_value()) return a_at.has_value();
  return a_at ? (*a_at < *b_at || (*a_at == *b_at && a_id < b_id)) : a_id < b_id;
}
bool comes_last(std::optional<std::int64_t> a_at, std::int64_t a_id, std::optional<std::int64_t> b_at, std::int64_t b_id) {
  if (a_at.has_value() != b_at.has_value()) return a_at.has_value();
  return a_at ? (*a_at > *b_at || (*a_at == *b_at && a_id > b_id)) : a_id > b_id;
}

std::vector<std::string> sorted(std::vector<std::string> list) {
  std::sort(list.begin(), list.end());
  return list;
}

}  // namespace

SessionStats::SessionStats(Timestamp created_at) : created_at_(micros_of(created_at)) {}

void SessionStats::lower_created_at(Timestamp t) { keep_min(created_at_, micros_of(t)); }

void SessionStats::add_event(std::int64_t id, const Event& event, const std::optional<std::string>& provider) {
  ++events_;
  keep_min(first_event_id_, id);
  keep_max(last_event_id_, id);
  add_distinct(systems_, system_instance_id(event));
  const Value& md = metadata(event);
  const Value* error = md.is_object() ? md.find("error") : nullptr;
  if (error != nullptr && !error->is_null()) ++errors_;
  std::optional<double> duration_ms = duration_of(md);
  if (const auto* call = std::get_if<CAISEvent>(&event)) {
    ++llm_calls_;
    add_to(prompt_tokens_, call->prompt_tokens);
    add_to(completion_tokens_, call->completion_tokens);
    if (call->total_tokens) {
      add_to(total_tokens_, call->total_tokens);
    } else if (call->prompt_tokens && call->completion_tokens) {
      add_to(total_tokens_, std::optional(saturating_add(*call->prompt_tokens, *call->completion_tokens)));
    }
    add_to(cached_tokens_, call->cached_tokens);
    add_to(cost_, call->cost);
    if (call->model_name) add_distinct(models_, *call->model_name);
    if (call->latency_ms) duration_ms = call->latency_ms;
  }
  if (provider) add_distinct(providers_, *provider);
  if (const auto* env = std::get_if<EnvironmentEvent>(&event)) {
    add_to(reward_, env->reward);
    if (env->terminated) terminated_ = terminated_.value_or(false) || *env->terminated;
  }
  if (const auto& tr = time_record(event)) {
    const std::optional<std::int64_t> start = micros_of(tr->event_time);
    keep_min(first_event_at_, start);
    // CAST(1000 * ms AS BIGINT) rounds to the nearest microsecond.
    const double us = 1000 * duration_ms.value_or(0);
    if (start && std::isfinite(us)) {
      const double whole_us = std::clamp(std::nearbyint(us), -9.2e18, 9.2e18);  // converts without overflow
      keep_max(last_event_end_, saturating_add(*start, static_cast<std::int64_t>(whole_us)));
    }
  }
}

void SessionStats::add_message(std::int64_t id, const SessionEventMessage& message) {
  ++messages_;
  keep_min(first_message_id_, id);
  keep_max(last_message_id_, id);
  const std::optional<std::int64_t> at = micros_of(message.timestamp);
  keep_min(first_message_at_, at);
  keep_max(last_message_at_, at);
  if (!first_message_ || comes_first(at, id, first_message_->at, first_message_->id)) {
    first_message_ = Preview{std::nullopt, &message.content, at, id};
  }
  if (!last_message_ || comes_last(at, id, last_message_->at, last_message_->id)) {
    last_message_ = Preview{std::nullopt, &message.content, at, id};
  }
}

void SessionStats::add(const SessionStats& later) {
  keep_min(created_at_, later.created_at_);
  timesteps_ = saturating_add(timesteps_, later.timesteps_);
  events_ = saturating_add(events_, later.events_);
  messages_ = saturating_add(messages_, later.messages_);
  llm_calls_ = saturating_add(llm_calls_, later.llm_calls_);
  errors_ = saturating_add(errors_, later.errors_);
  add_to(prompt_tokens_, later.prompt_tokens_);
  add_to(completion_tokens_, later.completion_tokens_);
  add_to(total_tokens_, later.total_tokens_);
  add_to(cached_tokens_, later.cached_tokens_);
  add_to(cost_, later.cost_);
  add_to(reward_, later.reward_);
  if (later.terminated_) terminated_ = terminated_.value_or(false) || *later.terminated_;
  for (const std::string& m : later.models_) add_distinct(models_, m);
  for (const std::string& p : later.providers_) add_distinct(providers_, p);
  for (const std::string& s : later.systems_) add_distinct(systems_, s);
  keep_min(first_event_at_, later.first_event_at_);
  keep_max(last_event_end_, later.last_event_end_);
  const auto& first = later.first_message_;
  if (first && (!first_message_ || comes_first(first->at, first->id, first_message_->at, first_message_->id))) {
    first_message_ = first;
  }
  const auto& last = later.last_message_;
  if (last && (!last_message_ || comes_last(last->at, last->id, last_message_->at, last_message_->id))) {
    last_message_ = last;
  }
  keep_min(first_message_at_, later.first_message_at_);
  keep_max(last_message_at_, later.last_message_at_);
  keep_min(first_event_id_, later.first_event_id_);
  keep_max(last_event_id_, later.last_event_id_);
  keep_min(first_message_id_, later.first_message_id_);
  keep_max(last_message_id_, later.last_message_id_);
}

SessionStats::Lists SessionStats::lists() const { return Lists{sorted(models_), sorted(providers_), sorted(systems_)}; }

bool SessionStats::lists_within(const Lists& stored) const {
  const auto within = [](const std::vector<std::string>& names, const std::vector<std::string>& in) {
    return std::all_of(names.begin(), names.end(),
                       [&](const std::string& name) { return std::binary_search(in.begin(), in.end(), name); });
  };
  return within(models_, stored.models) && within(providers_, stored.providers) && within(systems_, stored.systems);
}

SessionStats::Lists SessionStats::lists_with(const Lists& stored) const {
  Lists out = stored;
  const auto add = [](std::vector<std::string>& list, const std::vector<std::string>& names) {
    for (const std::string& name : names) add_distinct(list, name);
    std::sort(list.begin(), list.end());
  };
  add(out.models, models_);
  add(out.providers, providers_);
  add(out.systems, systems_);
  return out;
}

void SessionStats::settle() {
  for (std::optional<Preview>* p : {&first_message_, &last_message_}) {
    if (*p && (*p)->content != nullptr) {
      (*p)->text = preview_of(*(*p)->content);
      (*p)->content = nullptr;
    }
  }
}

const std::vector<std::string>& SessionStats::columns() {
  static const std::vector<std::string> kColumns = {
      "session_id",    "seq",           "created_at",       "experiment_id",   "started_at",
      "ended_at",      "num_timesteps", "num_events",       "num_messages",    "num_llm_calls",
      "prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens",   "cost",
      "reward",        "terminated",    "errors",           "models",          "providers",
      "systems",       "first_message", "first_message_at", "last_message",    "last_message_at",
      "first_event_id", "last_event_id", "first_message_id", "last_message_id"};
  return kColumns;
}

void SessionStats::append(Appender& a, std::string_view session_id, std::int64_t seq) const {
  // Sums of durations can leave the range of a nanosecond Timestamp: clamped to it.
  const auto time = [&](const std::optional<std::int64_t>& us) -> Appender& {
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max() / 1000;
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min() / 1000;
    return us ? a.timestamp(from_micros(std::clamp(*us, kMin, kMax))) : a.null();
  };
  std::optional<std::int64_t> started = created_at_;
  keep_min(started, first_event_at_);
  keep_min(started, first_message_at_);
  std::optional<std::int64_t> ended = last_event_end_;
  keep_max(ended, last_message_at_);
  const auto preview = [&](const std::optional<Preview>& p) -> Appender& {
    return p ? a.text(p->text) : a.null();
  };
  a.text(session_id).integer(seq);
  time(created_at_).null();  // experiment_id: a new session is in none
  time(started);
  time(ended)
      .integer(timesteps_)
      .integer(events_)
      .integer(messages_)
      .integer(llm_calls_)
      .integer(prompt_tokens_)
      .integer(completion_tokens_)
      .integer(total_tokens_)
      .integer(cached_tokens_)
      .number(cost_)
      .number(reward_)
      .boolean(terminated_)
      .integer(errors_)
      .text_list(sorted(models_))
      .text_list(sorted(providers_))
      .text_list(sorted(systems_));
  preview(first_message_);
  time(first_message_at_);
  preview(last_message_);
  time(last_message_at_)
      .integer(first_event_id_)
      .integer(last_event_id_)
      .integer(first_message_id_)
      .integer(last_message_id_);
  a.end_row();
}

}  // namespace synth::tracing::detail::duck
