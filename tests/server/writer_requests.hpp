// Requests for the server's writer tests, queued straight into a real IngestQueue.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "server/fixtures.hpp"
#include "server/ingest_queue.hpp"

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

}  // namespace synth_test
