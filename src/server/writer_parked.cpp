// The server writer's parked OTLP parts (StoreWriter::parked_, writer.hpp): parts of a trace
// whose session is not named yet, kept until the part naming it comes, they are due, or too many wait.
#include "server/writer.hpp"

namespace synth::tracing::server {

namespace {

using Clock = std::chrono::steady_clock;

// Parked parts at most (ParkedPart), and their bytes (as the queue counts them): past either
// the oldest are stored under their trace id.
constexpr std::size_t kMaxParkedParts = 10000;
constexpr std::size_t kMaxParkedBytes = std::size_t{64} << 20;

}  // namespace

bool StoreWriter::may_park(const IngestItem& item) const {
  // Only a request waiting for its commit gains from it; log records joining stored calls
  // (attach_logs) read the store as of their append.
  // A part with its trace's root span waits for nothing: the spans that could name it came.
  return pending_ids_ && item.receipt && item.spans && !item.has_root_span &&
         (!item.otlp || (!item.otlp->attach_logs && !item.otlp->no_session));
}

void StoreWriter::park(IngestItem& item) {
  if (!batch_open()) open_batch();
  if (item.receipt) batch_receipts_.insert(item.receipt.get());
  const std::int64_t row = pending_ids_->next();
  auto now = std::make_shared<OtlpWork>();  // the item's own rows, and its part's: written at the commit
  std::shared_ptr<OtlpWork> own = std::move(item.otlp);
  if (own) {
    now->put = own->put;
    now->drop = own->drop;
  }
  fill_timesteps(item.trace, *item.spans);  // the row keeps the session's JSON, read back as any trace
  now->put.push_back(part_row(row, item.trace, *item.spans));
  pending_rows_.add(std::move(now));
  item.otlp = std::make_shared<OtlpWork>();
  item.otlp->drop.push_back(row);  // in the commit that stores the part
  const std::string trace = item.trace.session_id;
  std::vector<ParkedPart>& parts = parked_[trace];
  if (parts.empty()) parked_order_.push_back(trace);
  parts.push_back(ParkedPart{std::move(item), std::move(own), Clock::now() + part_wait_});
  counters_.otlp_parts_waiting.fetch_add(1, std::memory_order_relaxed);
  parked_bytes_ += parts.back().item.bytes;
  if (parked_in_batch_.empty() || parked_in_batch_.back() != trace) parked_in_batch_.push_back(trace);
  if (parked_full()) store_due_parts(Clock::time_point::min());
}

std::size_t StoreWriter::unpark_absorbed(std::vector<IngestItem>& taken, std::size_t carried) {
  if (parked_.empty()) return 0;
  // A part parked in the open batch is answered first: unparked, its row would be written and
  // deleted in one batch, and a rollback could not give the item its own rows back.
  for (const IngestItem& naming : taken) {
    for (const std::string& from : naming.absorbs) {
      const auto found = parked_.find(from);
      if (found != parked_.end() && !found->second.back().answered) {
        commit();
        break;
      }
    }
    if (parked_in_batch_.empty()) break;
  }
  std::size_t before_carried = 0;
  for (std::size_t n = 0; n < taken.size(); ++n) {
    std::vector<IngestItem> parts;
    std::size_t at = n;  // before the first of the traces' parts in the take (they came in order)
    for (const std::string& from : taken[n].absorbs) {
      const auto found = parked_.find(from);
      if (found == parked_.end()) continue;
      bool first = true;
      for (ParkedPart& part : found->second) {
        part.item.trace.session_id = taken[n].trace.session_id;
        part.item.unnamed = false;
        // What earlier batches stored under the trace id moves first, so that parts keep their order.
        if (first) part.item.absorbs.push_back(from);
        first = false;
        counters_.otlp_parts_waiting.fetch_sub(1, std::memory_order_relaxed);
        parked_bytes_ -= part.item.bytes;
        parts.push_back(std::move(part.item));
      }
      parked_.erase(found);
      for (std::size_t i = 0; i < at; ++i) {
        if (taken[i].unnamed && taken[i].trace.session_id == from) {
          at = i;
          break;
        }
      }
    }
    if (parts.empty()) continue;
    if (at < carried + before_carried) before_carried += parts.size();
    n += parts.size();
    taken.insert(taken.begin() + static_cast<std::ptrdiff_t>(at), std::make_move_iterator(parts.begin()),
                 std::make_move_iterator(parts.end()));
  }
  return before_carried;
}

void StoreWriter::store_due_parts(Clock::time_point now) {
  while (!parked_order_.empty()) {
    const auto found = parked_.find(parked_order_.front());
    if (found == parked_.end()) {
      parked_order_.pop_front();  // taken by its naming part meanwhile
      continue;
    }
    if (!parked_full() && found->second.front().due > now) break;
    if (!found->second.back().answered) {
      // As in unpark_absorbed: answered first (or, should the commit fail, un-parked by the retry).
      commit();
      continue;
    }
    std::vector<ParkedPart> parts = std::move(found->second);
    parked_.erase(found);
    parked_order_.pop_front();
    counters_.otlp_parts_waiting.fetch_sub(parts.size(), std::memory_order_relaxed);
    for (const ParkedPart& part : parts) parked_bytes_ -= part.item.bytes;
    for (ParkedPart& part : parts) append(part.item);
  }
}

bool StoreWriter::parked_full() const {
  return counters_.otlp_parts_waiting.load(std::memory_order_relaxed) > kMaxParkedParts || parked_bytes_ > kMaxParkedBytes;
}

Clock::time_point StoreWriter::next_part_due() const {
  for (const std::string& trace : parked_order_) {
    const auto found = parked_.find(trace);
    if (found != parked_.end()) return found->second.front().due;
  }
  return Clock::time_point::max();
}

}  // namespace synth::tracing::server
