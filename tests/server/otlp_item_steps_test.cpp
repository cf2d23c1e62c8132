// The server's OTLP sessions stored from their history alone: map_otlp_spans leaves the
// timesteps' copies of the items out (TimestepCopies::left_out) and the store is told each item's
// timestep (item_steps, detail::duck::ItemSteps) instead of pairing copies with the history by deep
// comparison. Stored rows and the sessions read back must be byte-identical to storing the full
// shape (copies made, paired as any user's trace is): our exporter's spans, a GenAI agent's
// conversations whose parts arrive in several requests (in order, reversed, shuffled), merged
// within one batch, into committed sessions remembered by the store and into sessions it reads back
// from the file; retried spans dropped from a part. An item placed in the wrong timestep changes the
// rows (so the comparison can fail), and a placement that does not fit its session is refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>

#include "duckdb/access.hpp"
#include "otlp_workload.hpp"
#include "server/otlp_map.hpp"
#include "server/stored_spans.hpp"
#include "support.hpp"

using namespace synth::tracing;
using namespace synth::tracing::server;
using detail::duck::ItemSteps;
using detail::duck::StoreAccess;
using synth::tracing::testing::TempDir;

namespace {

struct Part {
  SessionTrace trace;
  SpanOrigins origins;
};

// The sessions of a client's requests in order, mapped as the server maps them (one memory of
// trace sessions across them).
// `bodies`: protobuf, or JSON when they start with '{'.
std::vector<Part> parts_of(const std::vector<std::string>& bodies, TimestepCopies copies) {
  TraceSessions memory;
  std::vector<Part> out;
  for (const std::string& body : bodies) {
    OtlpTraces traces = body.starts_with("{") ? decode_otlp_traces_json(body) : decode_otlp_traces_protobuf(body);
    OtlpMapped m = map_otlp_spans(std::move(traces), &memory, copies);
    for (std::size_t i = 0; i < m.sessions.size(); ++i) out.push_back(Part{std::move(m.sessions[i]), std::move(m.origins.at(i))});
  }
  return out;
}

std::vector<std::string> fixture_bodies() {
  std::vector<std::string> out;
  for (const char* name : {"genai.json", "openinference.json", "openllmetry.json"}) {
    out.push_back(synth::tracing::testing::file_contents(std::filesystem::path(OTLP_FIXTURES) / name));
    EXPECT_TRUE(out.back().starts_with("{")) << name;
  }
  return out;
}

// How the parts reach the store: their order, how many go in one commit, and whether the store
// is opened again halfway (a merge then reads the stored part from the file, not its memory).
struct Schedule {
  std::vector<std::size_t> order;
  std::size_t commit_every;
  bool reopen_halfway;
};

// Each part appended as the server's writer appends it: merged, with its placement when the
// mapping left the copies out.
void store_parts(const std::filesystem::path& db, std::vector<Part>& parts, const Schedule& s,
                 const std::function<void(std::size_t, ItemSteps&)>& alter = {}) {
  std::optional<DuckDBTraceManager> store(std::in_place, db);
  for (std::size_t n = 0; n < s.order.size(); ++n) {
    if (s.reopen_halfway && n == s.order.size() / 2) {
      StoreAccess::batch_commit(*store);
      store.emplace(db);
    }
    Part& part = parts[s.order[n]];
    std::optional<ItemSteps> steps = item_steps(part.origins);
    if (steps && alter) alter(s.order[n], *steps);
    StoreAccess::batch_append(*store, part.trace, OnExistingSession::merge, nullptr, steps ? &*steps : nullptr);
    if ((n + 1) % s.commit_every == 0) StoreAccess::batch_commit(*store);
  }
  StoreAccess::batch_commit(*store);
}

// Every row the store wrote, and every session as read back (its JSON), as text.
std::string everything_in(const std::filesystem::path& db) {
  DuckDBTraceManager store(db);
  std::string out;
  for (const char* sql : {"SELECT * FROM session_traces ORDER BY session_id", "SELECT * FROM session_timesteps ORDER BY id",
                          "SELECT * FROM events ORDER BY id", "SELECT * FROM messages ORDER BY id",
                          "SELECT * FROM session_stats ORDER BY session_id"}) {
    const QueryResult r = store.query(sql);
    out += std::string(sql) + "\n";
    for (const auto& row : r.rows) out += Value(Value::Array(row.begin(), row.end())).dump() + "\n";
  }
  for (const std::string& id : store.session_ids()) out += store.load_trace(id)->to_json() + "\n";
  return out;
}

// What storing the parts gives with the copies made and paired (as today), and with them left
// out and placed; both must be equal.
struct Both {
  std::string paired;
  std::string placed;
};

Both store_both(const std::vector<std::string>& bodies, const Schedule& s,
                const std::function<void(std::size_t, ItemSteps&)>& alter = {}) {
  TempDir dir;
  std::vector<Part> full = parts_of(bodies, TimestepCopies::made);
  std::vector<Part> placed = parts_of(bodies, TimestepCopies::left_out);
  EXPECT_EQ(full.size(), placed.size());
  for (std::size_t i = 0; i < full.size(); ++i) {
    EXPECT_FALSE(item_steps(full[i].origins)) << "copies made: paired as any trace";
    EXPECT_TRUE(item_steps(placed[i].origins)) << "copies left out: placed";
  }
  store_parts(dir.path / "paired.duckdb", full, s);
  store_parts(dir.path / "placed.duckdb", placed, s, alter);
  return Both{everything_in(dir.path / "paired.duckdb"), everything_in(dir.path / "placed.duckdb")};
}

std::vector<Schedule> schedules(std::size_t parts) {
  std::vector<std::size_t> in_order(parts);
  std::iota(in_order.begin(), in_order.end(), 0);
  std::vector<std::size_t> reversed(in_order.rbegin(), in_order.rend());
  std::vector<std::size_t> shuffled = in_order;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(12));
  return {{in_order, 1, false}, {in_order, parts, false}, {reversed, 3, false}, {shuffled, 2, true}, {shuffled, parts, false}};
}

// The first line where `placed` differs from `paired` (the whole texts are too long to print).
void expect_same(const std::string& placed, const std::string& paired, const std::string& context) {
  if (placed == paired) return;
  std::istringstream a(placed), b(paired);
  std::string x, y;
  for (std::size_t line = 1;; ++line) {
    const bool more_a = static_cast<bool>(std::getline(a, x)), more_b = static_cast<bool>(std::getline(b, y));
    if (x != y || more_a != more_b) {
      ADD_FAILURE() << context << ": line " << line << " differs\nplaced: " << x.substr(0, 600) << "\npaired: " << y.substr(0, 600);
      return;
    }
  }
}

void expect_stored_alike(const std::vector<std::string>& bodies) {
  const std::size_t parts = parts_of(bodies, TimestepCopies::made).size();
  ASSERT_GT(parts, 3u);
  for (const Schedule& s : schedules(parts)) {
    const Both got = store_both(bodies, s);
    ASSERT_GT(got.paired.size(), 1000u);
    expect_same(got.placed, got.paired, "commit every " + std::to_string(s.commit_every) + ", reopened " +
                                            std::to_string(s.reopen_halfway));
  }
}

}  // namespace

TEST(OtlpItemSteps, GenAiConversationsAcrossRequestsStoreAlike) {
  expect_stored_alike(synth_bench::otlp_client_bodies(synth_bench::OtlpShape::foreign, false, 0, 4, 48).bodies);
}

TEST(OtlpItemSteps, OurExportersSpansStoreAlike) {
  expect_stored_alike(synth_bench::otlp_client_bodies(synth_bench::OtlpShape::ours, false, 0, 4, 48).bodies);
}

TEST(OtlpItemSteps, FixturesStoreAlike) {
  std::vector<std::string> bodies = fixture_bodies();
  // Twice: the second time every session is merged into the stored one.
  const std::size_t n = bodies.size();
  for (std::size_t i = 0; i < n; ++i) bodies.push_back(bodies[i]);
  expect_stored_alike(bodies);
}

// The comparison can fail: one event of a part moved to another of its timesteps.
TEST(OtlpItemSteps, AnEventInTheWrongTimestepIsSeen) {
  const auto bodies = synth_bench::otlp_client_bodies(synth_bench::OtlpShape::ours, false, 0, 2, 48).bodies;
  const std::vector<Part> parts = parts_of(bodies, TimestepCopies::left_out);
  std::size_t victim = parts.size();
  for (std::size_t i = 0; i < parts.size() && victim == parts.size(); ++i) {
    const std::optional<ItemSteps> steps = item_steps(parts[i].origins);
    if (parts[i].trace.session_time_steps.size() > 1 && steps && !steps->events.empty() && steps->events.back() >= 0) victim = i;
  }
  ASSERT_LT(victim, parts.size()) << "no part with an event in one of two timesteps";
  std::vector<std::size_t> order(parts.size());
  std::iota(order.begin(), order.end(), 0);
  const Both got = store_both(bodies, Schedule{order, 2, false}, [&](std::size_t part, ItemSteps& steps) {
    if (part != victim) return;
    std::int32_t& step = steps.events.back();
    step = step == 0 ? 1 : 0;
  });
  EXPECT_NE(got.placed, got.paired);
}

TEST(OtlpItemSteps, APlacementThatDoesNotFitItsSessionIsRefused) {
  const auto bodies = synth_bench::otlp_client_bodies(synth_bench::OtlpShape::ours, false, 0, 1, 48).bodies;
  std::vector<Part> parts = parts_of(bodies, TimestepCopies::left_out);
  ASSERT_FALSE(parts.empty());
  Part& part = parts.front();
  const ItemSteps good = *item_steps(part.origins);
  ASSERT_FALSE(good.events.empty());
  TempDir dir;
  DuckDBTraceManager store(dir.db());
  const auto refused = [&](const SessionTrace& trace, const ItemSteps& steps) {
    EXPECT_THROW(StoreAccess::batch_append(store, trace, OnExistingSession::merge, nullptr, &steps), detail::duck::Refused);
  };
  ItemSteps shorter = good;
  shorter.events.pop_back();
  refused(part.trace, shorter);
  ItemSteps past_the_steps = good;
  past_the_steps.events.front() = static_cast<std::int32_t>(part.trace.session_time_steps.size());
  refused(part.trace, past_the_steps);
  SessionTrace with_copies = part.trace;
  fill_timesteps(with_copies, part.origins);
  refused(with_copies, good);  // its timesteps hold copies: they would be stored twice
  StoreAccess::batch_append(store, part.trace, OnExistingSession::merge, nullptr, &good);
  StoreAccess::batch_commit(store);
  EXPECT_EQ(store.query("SELECT COUNT(*) FROM events").rows.at(0).at(0), Value(static_cast<std::int64_t>(good.events.size())));
}

// drop_spans (a retried export's spans left out) on a part without copies, then the copies made,
// gives what it gives on the full part; stored, both give the same rows.
TEST(OtlpItemSteps, DroppedSpansLeaveThePartAlike) {
  const auto bodies = synth_bench::otlp_client_bodies(synth_bench::OtlpShape::foreign, false, 0, 3, 48).bodies;
  std::vector<Part> full = parts_of(bodies, TimestepCopies::made);
  std::vector<Part> placed = parts_of(bodies, TimestepCopies::left_out);
  for (std::size_t i = 0; i < full.size(); ++i) {
    std::vector<bool> drop(full[i].origins.keys.size(), false);
    for (std::size_t k = 0; k < drop.size(); k += 2) drop[k] = true;  // every other span
    drop_spans(full[i].trace, full[i].origins, drop);
    drop_spans(placed[i].trace, placed[i].origins, drop);
    SessionTrace filled = placed[i].trace;
    SpanOrigins origins = placed[i].origins;
    fill_timesteps(filled, origins);
    EXPECT_EQ(filled.to_json(), full[i].trace.to_json()) << "part " << i;
    EXPECT_FALSE(item_steps(origins));
  }
}
