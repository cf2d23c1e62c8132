// Requests for the server's writer tests, queued straight into a real IngestQueue.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/fixtures.hpp"
#include "server/ingest_queue.hpp"
#include "server/pending.hpp"

namespace synth_test {

// A request of one sample session `id`, merged into what is stored, whose client waits for its commit.
inline std::shared_ptr<synth::tracing::server::Receipt> push_request(synth::tracing::server::IngestQueue& queue,
                                                                     const std::string& id) {
  using namespace synth::tracing::server;
  auto receipt = std::make_shared<Receipt>(1);
  std::vector<IngestItem> items;
  items.push_back(IngestItem{sample_session(id, {.steps = 1}), synth::tracing::OnExistingSession::merge, 1, receipt, 0});
  EXPECT_EQ(queue.push(items), IngestQueue::Push::queued);
  return receipt;
}

// Whether the request was answered within 30 s, its session inserted.
inline bool answered(const std::shared_ptr<synth::tracing::server::Receipt>& receipt) {
  return receipt->wait(std::chrono::steady_clock::now() + std::chrono::seconds(30)) &&
         receipt->outcomes()[0].what == synth::tracing::server::Stored::inserted;
}

// An OTLP part of trace `trace` whose request waits for its commit: one span per event, all in
// the first timestep, the messages of the first span.
inline synth::tracing::server::IngestItem waiting_part(const synth::tracing::SessionTrace& part, std::uint64_t trace,
                                                       const std::shared_ptr<synth::tracing::server::Receipt>& receipt) {
  using namespace synth::tracing::server;
  IngestItem item{part, synth::tracing::OnExistingSession::merge, 1, receipt, 0};
  auto origins = std::make_shared<SpanOrigins>();
  for (std::size_t e = 0; e < std::max<std::size_t>(part.event_history.size(), 1); ++e) {
    origins->keys.push_back(SpanKey{trace, e + 1});
    origins->steps.push_back(0);
  }
  for (std::size_t e = 0; e < part.event_history.size(); ++e) origins->events.push_back(static_cast<std::uint32_t>(e));
  origins->messages.assign(part.message_history.size(), 0);
  item.spans = std::move(origins);
  return item;
}

}  // namespace synth_test
