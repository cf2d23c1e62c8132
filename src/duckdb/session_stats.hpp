// Internal: one session's row of session_stats, accumulated from the rows an insert appends, as
// kRefreshSessionStats (schema.hpp) computes it in SQL from stored rows. Inserts use this (no
// query: it costs nothing next to the appends), and so do merges: what the rows added to a stored
// session aggregate to is combined into its row by kMergeSessionStats; migrated files use the SQL.
// tests/duckdb/session_stats_test.cpp checks both against the stored rows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "duckdb/connection.hpp"
#include "synth/tracing/model.hpp"

namespace synth::tracing::detail::duck {

class SessionStats {
 public:
  explicit SessionStats(Timestamp created_at);

  /// An events row: its id, the event, and its provider column.
  void add_event(std::int64_t id, const Event& event, const std::optional<std::string>& provider);
  /// A messages row. `message` must live until settle(): the preview of the first and last
  /// message is made only for those (making it for every message took a tenth of our rows' work).
  void add_message(std::int64_t id, const SessionEventMessage& message);
  /// Makes the previews of the messages added since the last call; before their part is freed.
  void settle();
  void add_timestep() noexcept { ++timesteps_; }
  /// A part merged into the session in memory started earlier: least(created_at, `t`).
  void lower_created_at(Timestamp t);
  /// Adds the aggregates of rows stored after these (both settled), as the upserts of schema.hpp
  /// combine a stored row with them: the server's writer holds a merged session's additions
  /// over several commits this way (DuckDBTraceManager's deferred_stats).
  void add(const SessionStats& later);

  /// The session_stats list columns, sorted: which models, providers and systems rows name.
  struct Lists {
    std::vector<std::string> models, providers, systems;
  };
  Lists lists() const;
  /// True when every model, provider and system these rows name is in `stored`: combined with a
  /// row holding `stored`, its lists stay as they are.
  bool lists_within(const Lists& stored) const;
  /// `stored` with what these rows name added (sorted).
  Lists lists_with(const Lists& stored) const;

  /// The columns append() fills, in its order.
  static const std::vector<std::string>& columns();
  /// Appends the session's row, with change number `seq`.
  void append(Appender& a, std::string_view session_id, std::int64_t seq) const;

 private:
  struct Preview {
    std::optional<std::string> text;  // NULL for a message without content
    const Value* content;             // until settle(): text is made from it then
    std::optional<std::int64_t> at;  // microseconds; NULL sorts last
    std::int64_t id;
  };

  std::optional<std::int64_t> created_at_;  // microseconds
  std::int64_t timesteps_ = 0, events_ = 0, messages_ = 0, llm_calls_ = 0, errors_ = 0;
  std::optional<std::int64_t> prompt_tokens_, completion_tokens_, total_tokens_, cached_tokens_;
  std::optional<double> cost_, reward_;
  std::optional<bool> terminated_;
  std::vector<std::string> models_, providers_, systems_;
  std::optional<std::int64_t> first_event_at_, last_event_end_, first_message_at_, last_message_at_;
  std::optional<Preview> first_message_, last_message_;
  std::optional<std::int64_t> first_event_id_, last_event_id_, first_message_id_, last_message_id_;
};

}  // namespace synth::tracing::detail::duck
