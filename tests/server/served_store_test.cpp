// The database a server owns checkpoints without vacuum: a checkpoint holds every commit back,
// and DuckDB's vacuum made each one rewrite the rows the previous one had written (the partly
// filled row group it left, merged with the rows come since): 1.5-2.5 s of held commits under
// sustained ingest (BENCHMARKS.md, "Checkpoints without vacuum"). Real DuckDB file.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "duckdb/access.hpp"
#include "server/fixtures.hpp"
#include "server/server.hpp"
#include "support.hpp"

using namespace synth::tracing;
using synth::tracing::testing::TempDir;
using synth_test::sample_session;

namespace {

void insert_sessions(DuckDBTraceManager& store, const std::string& prefix, int count) {
  std::vector<SessionTrace> sessions;
  for (int i = 0; i < count; ++i) sessions.push_back(sample_session(prefix + std::to_string(i)));
  ASSERT_EQ(store.insert_traces(sessions).inserted, static_cast<std::size_t>(count));
}

// Where each stored segment of the events table is: row group, column, block and offset.
std::vector<std::string> events_segments(detail::duck::Connection& conn) {
  detail::duck::Result r = detail::duck::query(
      conn,
      "SELECT row_group_id || '/' || column_id || '/' || column_path || '/' || segment_id || ' @ ' || block_id || '+' || "
      "block_offset FROM pragma_storage_info('events') WHERE persistent ORDER BY row_group_id, column_id, column_path, "
      "segment_id");
  std::vector<std::string> out;
  for (std::size_t row = 0; row < r.rows(); ++row) out.push_back(r.text(0, row).value_or(""));
  return out;
}

std::size_t row_groups_of_events(detail::duck::Connection& conn) {
  detail::duck::Result r = detail::duck::query(conn, "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('events')");
  return static_cast<std::size_t>(r.integer(0, 0).value_or(0));
}

}  // namespace

TEST(ServedStore, ACheckpointWritesOnlyWhatWasCommittedSinceTheLastOne) {
  TempDir dir;
  DuckDBTraceManager store(dir.db());
  server::configure_served_store(store, dir.path);
  const auto conn = detail::duck::StoreAccess::reader(store);

  insert_sessions(store, "first-", 1000);  // 9,000 events: one partly filled row group
  detail::duck::query(*conn, "CHECKPOINT");
  const std::vector<std::string> written = events_segments(*conn);
  ASSERT_FALSE(written.empty());
  ASSERT_EQ(row_groups_of_events(*conn), 1u);

  insert_sessions(store, "second-", 1500);  // more than as many again: DuckDB's vacuum would merge
  detail::duck::query(*conn, "CHECKPOINT");
  EXPECT_EQ(row_groups_of_events(*conn), 2u) << "the new rows in a row group of their own";
  const std::vector<std::string> after = events_segments(*conn);
  ASSERT_GE(after.size(), written.size());
  EXPECT_EQ(std::vector<std::string>(after.begin(), after.begin() + static_cast<std::ptrdiff_t>(written.size())), written)
      << "the first checkpoint's segments were left where they were, not written again";
  detail::duck::Result count = detail::duck::query(*conn, "SELECT count(*) FROM events");
  EXPECT_EQ(count.integer(0, 0), 2500 * 9);
}

TEST(ServedStore, ItsCheckpointsComeEvery32MebibytesOfLog) {
  TempDir dir;
  DuckDBTraceManager store(dir.db());
  server::configure_served_store(store, dir.path);
  const auto conn = detail::duck::StoreAccess::reader(store);
  detail::duck::Result r =
      detail::duck::query(*conn, "SELECT current_setting('checkpoint_threshold')::VARCHAR, current_setting('max_vacuum_tasks')");
  EXPECT_EQ(r.text(0, 0), "32.0 MiB");
  EXPECT_EQ(r.integer(1, 0), 0);
  EXPECT_THROW(detail::duck::query(*conn, "SET max_vacuum_tasks = 100"), StorageError) << "the configuration is locked";
}
