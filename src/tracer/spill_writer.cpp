#include "tracer/spill_writer.hpp"

#include <condition_variable>
#include <deque>

#include "diagnostics.hpp"
#include "tracer/state.hpp"
#include "synth/tracing/spill.hpp"

namespace synth::tracing::detail {

namespace {
// How often the thread looks for a timestep that ended (TimestepScope sets a flag): checkpoints
// follow a timestep's end within this, and never come more often.
constexpr std::chrono::milliseconds kWakeCheck{10};
}  // namespace

struct SpillWriter::State {
  State(const TracingConfig& config, std::shared_ptr<const OutgoingPolicy> outgoing)
      : spill_dir(config.spill_dir.value()),
        interval(std::chrono::milliseconds(*config.checkpoint_interval_ms)),
        max_bytes(config.spill_max_bytes),
        recover(config.recover_spill),
        capacity(std::max<std::size_t>(1, config.sink_queue_capacity)),
        policy(std::move(outgoing)) {}

  struct Ended {
    std::shared_ptr<FinishedSession> session;
    bool overflow = false;
  };

  using Clock = std::chrono::steady_clock;
  void run();
  // Returns when the next young session becomes one interval old (Clock::time_point::max() for
  // none). `final`: the tracer stops, every session is checkpointed whole.
  Clock::time_point pass(bool final);
  void recover_folders();
  // A session younger than `interval` gets its stub only (unless `final`), and lowers `due` to
  // when it is one interval old.
  void checkpoint(SessionState& session, const std::shared_ptr<SpillCursor>& cursor, Clock::time_point now, bool final,
                  Clock::time_point& due);
  void write_ended(const Ended& entry);
  // Appends `bytes` (the records of `count` items) to the cursor's file, within the cap; false
  // when refused or failed (the cursor stops: its file keeps a prefix).
  bool write(const std::shared_ptr<SpillCursor>& cursor, std::string_view data, std::size_t count);
  void forget_stored();

  const std::filesystem::path spill_dir;
  const std::chrono::milliseconds interval;
  const std::uint64_t max_bytes;
  const bool recover;
  const std::size_t capacity;
  const std::shared_ptr<const OutgoingPolicy> policy;

  std::weak_ptr<TracerCore> core;
  std::function<void(SpilledFile)> to_sinks;
  std::function<void(const std::string&)> overflow_failed;

  std::mutex mutex;
  std::condition_variable changed;  // work for the thread, or room in the overflow backlog
  std::deque<Ended> ended;          // guarded by mutex
  std::size_t overflow_waiting = 0;  // guarded by mutex: overflowed sessions in `ended`
  bool stopping = false;            // guarded by mutex
  bool started = false;             // guarded by mutex
  std::atomic<bool> active{false};  // the folder exists and the thread runs
  std::atomic<bool> wake{false};
  WorkerThread worker;

  // The thread's own.
  std::optional<SpillFolder> folder;
  std::vector<SpillFolder> claimed;  // folders of gone tracers whose files are being stored
  std::vector<std::shared_ptr<SpillCursor>> with_files;
  std::uint64_t next_file = 0;
  std::string buffer;

  std::atomic<std::uint64_t> overflowed{0};
  std::atomic<std::uint64_t> recovered{0};
  std::atomic<std::uint64_t> records_refused{0};
  std::atomic<std::uint64_t> bytes{0};
};

SpillWriter::SpillWriter(const TracingConfig& config, std::shared_ptr<const OutgoingPolicy> policy)
    : state_(std::make_shared<State>(config, std::move(policy))) {}

SpillWriter::~SpillWriter() { shutdown(std::chrono::steady_clock::now() + kShutdownGrace); }

void SpillWriter::start(std::weak_ptr<TracerCore> core, std::function<void(SpilledFile)> to_sinks,
                        std::function<void(const std::string&)> overflow_failed) {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  if (s.started || s.stopping) return;
  s.started = true;
  try {
    s.folder = SpillFolder::create(s.spill_dir);
  } catch (const std::exception& e) {
    report(std::string(e.what()) + "; sessions are not checkpointed, and a full sink queue drops them");
    return;
  }
  s.core = std::move(core);
  s.to_sinks = std::move(to_sinks);
  s.overflow_failed = std::move(overflow_failed);
  s.active.store(true, std::memory_order_release);
  s.worker = WorkerThread("synth-spill", [self = state_] { self->run(); });
}

bool SpillWriter::running() const noexcept { return state_->active.load(std::memory_order_acquire); }

void SpillWriter::wake() noexcept { state_->wake.store(true, std::memory_order_relaxed); }

void SpillWriter::ended(std::shared_ptr<FinishedSession> session) noexcept {
  State& s = *state_;
  if (!s.active.load(std::memory_order_acquire)) return;
  try {
    std::lock_guard lock(s.mutex);
    if (s.stopping) return;
    s.ended.push_back({std::move(session), false});
  } catch (...) {
    // Out of memory: the session is still on its way to the sinks, only not crash-safe.
  }
}

bool SpillWriter::overflow(std::shared_ptr<FinishedSession> session, std::chrono::milliseconds wait) noexcept {
  State& s = *state_;
  if (!s.active.load(std::memory_order_acquire)) return false;
  try {
    std::unique_lock lock(s.mutex);
    if (!s.changed.wait_for(lock, wait, [&] { return s.stopping || s.overflow_waiting < s.capacity; }) || s.stopping) {
      return false;
    }
    s.ended.push_back({std::move(session), true});
    ++s.overflow_waiting;
  } catch (...) {
    return false;
  }
  s.changed.notify_all();
  return true;
}

void SpillWriter::stored(const std::shared_ptr<SpillCursor>& cursor) noexcept {
  if (cursor) cursor->stored.store(true, std::memory_order_release);
}

void SpillWriter::shutdown(std::chrono::steady_clock::time_point deadline) noexcept {
  State& s = *state_;
  {
    std::lock_guard lock(s.mutex);
    if (s.stopping) return;
    s.stopping = true;
  }
  s.changed.notify_all();
  if (!s.worker.finish(deadline)) {
    report("the spill writer was still busy at the shutdown deadline; it is left to finish in the background");
  }
}

SpillCounters SpillWriter::counters() const noexcept {
  const State& s = *state_;
  return {s.overflowed.load(std::memory_order_relaxed), s.recovered.load(std::memory_order_relaxed),
          s.records_refused.load(std::memory_order_relaxed), s.bytes.load(std::memory_order_relaxed)};
}

// ---- the thread ----

void SpillWriter::State::run() {
  if (recover) recover_folders();
  auto next_checkpoint = Clock::now() + interval;
  for (;;) {
    bool stop = false;
    bool overflowing = false;
    {
      std::unique_lock lock(mutex);
      changed.wait_for(lock, kWakeCheck, [&] { return stopping || overflow_waiting > 0; });
      stop = stopping;
      overflowing = overflow_waiting > 0;
    }
    const auto now = Clock::now();
    if (stop || overflowing || wake.exchange(false, std::memory_order_relaxed) || now >= next_checkpoint) {
      try {
        next_checkpoint = std::min(now + interval, pass(stop));
      } catch (...) {
        // Out of memory (nothing else throws here): the program goes on, the sessions still go
        // to the sinks, and the next pass checkpoints them again.
        report("a checkpoint pass of the spill thread ran out of memory; the next one tries again");
        next_checkpoint = now + interval;
      }
    }
    if (stop) {
      // The lock goes with the thread, even while sessions outlive the tracer: what is left in
      // the folder is now for the next recovery.
      folder->remove_if_empty();
      folder.reset();
      for (SpillFolder& f : claimed) f.remove_if_empty();
      claimed.clear();
      return;
    }
  }
}

SpillWriter::State::Clock::time_point SpillWriter::State::pass(bool final) {
  forget_stored();
  std::deque<Ended> batch;
  {
    std::lock_guard lock(mutex);
    batch.swap(ended);
  }
  for (const Ended& entry : batch) {
    try {
      write_ended(entry);
    } catch (...) {
      // Out of memory. A queued session still goes to the sinks; an overflowed one not complete
      // on disk is lost, and counted (one complete on disk comes back at the next start).
      report("the spill thread ran out of memory writing an ended session");
      const std::shared_ptr<SpillCursor>& cursor = entry.session->spill();
      if (entry.overflow && (!cursor || !cursor->complete)) overflow_failed(entry.session->id());
    }
    if (entry.overflow) {
      {
        std::lock_guard lock(mutex);
        --overflow_waiting;
      }
      changed.notify_all();
    }
  }
  batch.clear();
  std::vector<std::shared_ptr<SessionState>> sessions;
  if (const auto c = core.lock()) {
    std::lock_guard lock(c->registry_mutex);
    sessions.reserve(c->active.size());
    for (const auto& [id, weak] : c->active) {
      if (auto session = weak.lock(); session && session->spill) sessions.push_back(std::move(session));
    }
  }
  const auto now = Clock::now();
  auto due = Clock::time_point::max();
  for (const auto& session : sessions) checkpoint(*session, session->spill, now, final, due);
  return due;
}

void SpillWriter::State::recover_folders() {
  std::vector<std::filesystem::path> folders;
  try {
    folders = SpillFolder::list(spill_dir);
  } catch (const std::exception& e) {
    report(std::string(e.what()) + "; spilled sessions of earlier runs were not recovered");
    return;
  }
  for (const auto& path : folders) {
    if (path == folder->path()) continue;
    auto claimed_folder = SpillFolder::claim(path);
    if (!claimed_folder) continue;  // its tracer is alive
    const auto files = claimed_folder->files();
    if (files.empty()) {
      claimed_folder->remove_if_empty();
      continue;
    }
    const int index = static_cast<int>(claimed.size());
    claimed.push_back(std::move(*claimed_folder));
    for (const auto& file : files) {
      auto cursor = std::make_shared<SpillCursor>();
      cursor->file = file;
      cursor->recovered_folder = index;
      with_files.push_back(cursor);
      recovered.fetch_add(1, std::memory_order_relaxed);
      to_sinks(SpilledFile{file, std::move(cursor), true});
    }
  }
}

void SpillWriter::State::checkpoint(SessionState& session, const std::shared_ptr<SpillCursor>& cursor,
                                    Clock::time_point now, bool final, Clock::time_point& due) {
  if (cursor->complete || cursor->stopped) return;
  // A young session is not checkpointed yet: a short episode then reaches the disk once, through
  // the sinks, and loses no more to a crash than the interval promises. Its stub (header and
  // start metadata) is written at once, so that a crash still brings it back, as aborted.
  const bool stub = !final && now - cursor->started < interval;
  const bool first_write = cursor->file.empty();
  if (stub) {
    due = std::min(due, cursor->started + interval);
    if (!first_write) return;
  }
  // Items are read in place (a journal never moves what it holds), under the cursor's lock:
  // the session's own lock is held only to take their addresses. The agent's thread only
  // appends, and reads a timestep's id, not what the policy changes.
  thread_local std::vector<SessionTimeStep*> steps;
  thread_local std::vector<Recorded<Event>*> events;
  thread_local std::vector<Recorded<SessionEventMessage>*> messages;
  std::vector<SessionMetadataEntry> metadata;
  std::string session_id;
  Timestamp created_at{};
  std::unique_lock<std::mutex> reading;
  {
    std::lock_guard lock(session.mutex);
    if (session.ended.load(std::memory_order_relaxed)) return;
    SessionJournal& j = session.journal;
    if (!first_write && j.steps.size() == cursor->steps && j.events.size() == cursor->events &&
        j.messages.size() == cursor->messages && j.session_metadata.size() == cursor->metadata) {
      cursor->checkpointed = true;
      return;
    }
    if (first_write) {
      session_id = j.session_id;
      created_at = j.created_at;
    }
    metadata.assign(j.session_metadata.begin() + static_cast<std::ptrdiff_t>(cursor->metadata), j.session_metadata.end());
    steps.clear();
    events.clear();
    messages.clear();
    if (!stub) {
      j.steps.for_each_mutable_from(cursor->steps, [](SessionTimeStep& step) { steps.push_back(&step); });
      j.events.for_each_mutable_from(cursor->events, [](Recorded<Event>& r) { events.push_back(&r); });
      j.messages.for_each_mutable_from(cursor->messages,
                                       [](Recorded<SessionEventMessage>& r) { messages.push_back(&r); });
      reading = std::unique_lock(cursor->read_mutex);
    }
  }
  buffer.clear();
  if (first_write) append_spill_header(buffer, session_id, created_at);
  // What reaches the disk is masked like everything else leaving the process. Timesteps, events
  // and messages are masked in place, once: the sinks take them as they are (the metadata is a
  // copy: its vector may grow meanwhile). Each is counted as soon as it is masked, and one that
  // is counted already is not masked again: a pass that ran out of memory midway is redone.
  const auto mask_once = [&](auto& item, std::size_t index, std::size_t& masked) {
    if (index < masked) return;
    policy->apply(item);
    ++masked;
  };
  for (SessionMetadataEntry& entry : metadata) {
    policy->apply(entry);
    append_spill_item(buffer, entry);
  }
  std::size_t index = cursor->steps;
  for (SessionTimeStep* step : steps) {
    mask_once(*step, index++, cursor->policy_applied.steps);
    append_spill_item(buffer, *step);
  }
  index = cursor->events;
  for (auto* r : events) {
    Event& event = r->event();  // a scope's event is built here, once
    mask_once(event, index++, cursor->policy_applied.events);
    append_spill_item(buffer, event, r->step);
  }
  index = cursor->messages;
  for (auto* r : messages) {
    mask_once(r->item, index++, cursor->policy_applied.messages);
    append_spill_item(buffer, r->item, r->step);
  }
  if (reading) reading.unlock();
  if (!write(cursor, buffer, metadata.size() + steps.size() + events.size() + messages.size())) return;
  cursor->metadata += metadata.size();
  cursor->steps += steps.size();
  cursor->events += events.size();
  cursor->messages += messages.size();
  if (!stub) cursor->checkpointed = true;
}

void SpillWriter::State::write_ended(const Ended& entry) {
  FinishedSession& session = *entry.session;
  const std::shared_ptr<SpillCursor>& cursor = session.spill();
  const auto failed = [&] {
    if (entry.overflow) overflow_failed(session.id());
  };
  if (!cursor || cursor->stopped) return failed();
  // A queued session is completed on disk only when it was checkpointed (it lived longer than an
  // interval) and is not stored yet; an overflowed one always. A stub alone waits for the sinks.
  if (!entry.overflow && (!cursor->checkpointed || cursor->stored.load(std::memory_order_acquire))) return;
  if (!cursor->complete) {
    std::shared_ptr<const SessionTrace> trace;
    try {
      trace = session.trace();
    } catch (const std::exception& e) {
      report("could not assemble session '" + session.id() + "' for the spill: " + e.what());
      return failed();
    }
    const ItemSteps& item_steps = session.item_steps();
    buffer.clear();
    if (cursor->file.empty()) append_spill_header(buffer, trace->session_id, trace->created_at);
    // The trace has passed the outgoing policy already.
    for (std::size_t i = cursor->metadata; i < trace->session_metadata.size(); ++i) {
      append_spill_item(buffer, trace->session_metadata[i]);
    }
    for (std::size_t i = cursor->steps; i < trace->session_time_steps.size(); ++i) {
      const SessionTimeStep& step = trace->session_time_steps[i];
      append_spill_item(buffer, SessionTimeStep{.step_id = step.step_id,
                                                .step_index = step.step_index,
                                                .turn_number = step.turn_number,
                                                .timestamp = step.timestamp,
                                                .step_metadata = step.step_metadata});
    }
    for (std::size_t i = cursor->events; i < trace->event_history.size(); ++i) {
      append_spill_item(buffer, trace->event_history[i], item_steps.events[i]);
    }
    for (std::size_t i = cursor->messages; i < trace->message_history.size(); ++i) {
      append_spill_item(buffer, trace->message_history[i], item_steps.messages[i]);
    }
    append_spill_end(buffer);
    const std::size_t items = trace->session_metadata.size() - cursor->metadata + trace->session_time_steps.size() -
                              cursor->steps + trace->event_history.size() - cursor->events +
                              trace->message_history.size() - cursor->messages;
    if (!write(cursor, buffer, items)) return failed();
    cursor->complete = true;
  }
  if (entry.overflow) {
    overflowed.fetch_add(1, std::memory_order_relaxed);
    to_sinks(SpilledFile{cursor->file, cursor, false});
  }
}

bool SpillWriter::State::write(const std::shared_ptr<SpillCursor>& cursor, std::string_view data, std::size_t count) {
  if (cursor->stopped) return false;
  const auto refuse = [&](const std::string& why) {
    cursor->stopped = true;
    // Reported before counted (only this thread counts): whoever sees the count finds the report.
    const std::uint64_t n = records_refused.load(std::memory_order_relaxed) + count;
    if (is_report_worthy(n) || n == count) report(why + " (" + std::to_string(n) + " records not checkpointed so far)");
    records_refused.store(n, std::memory_order_relaxed);
    return false;
  };
  if (bytes.load(std::memory_order_relaxed) + data.size() > max_bytes) {
    return refuse("the spill in " + folder->path().string() + " reached spill_max_bytes (" + std::to_string(max_bytes) +
                  " bytes)");
  }
  const bool first = cursor->file.empty();
  if (first) cursor->file = folder->path() / (std::to_string(next_file++) + ".spill");
  // Counted before it is written: whoever finds the records on disk finds them in spill_bytes.
  bytes.fetch_add(data.size(), std::memory_order_relaxed);
  try {
    append_to_file(cursor->file, data);  // on failure, the file is cut back to what it was
  } catch (const std::exception& e) {
    bytes.fetch_sub(data.size(), std::memory_order_relaxed);
    return refuse(e.what());
  }
  if (first) with_files.push_back(cursor);
  cursor->bytes += data.size();
  return true;
}

void SpillWriter::State::forget_stored() {
  bool from_claimed = false;
  std::erase_if(with_files, [&](const std::shared_ptr<SpillCursor>& cursor) {
    if (!cursor->stored.load(std::memory_order_acquire)) return false;
    std::error_code ec;
    std::filesystem::remove(cursor->file, ec);
    bytes.fetch_sub(std::min(cursor->bytes, bytes.load(std::memory_order_relaxed)), std::memory_order_relaxed);
    from_claimed = from_claimed || cursor->recovered_folder >= 0;
    return true;
  });
  if (from_claimed) {
    for (SpillFolder& f : claimed) f.remove_if_empty();
  }
}

}  // namespace synth::tracing::detail
