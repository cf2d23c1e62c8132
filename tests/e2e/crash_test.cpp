// A process that dies while recording loses at most the last checkpoint interval: crash_child is
// SIGKILLed at random moments (and crashes in a hook, and aborts); what it stored and what the
// spill recovers then holds, per session, an exact prefix of the numbered events it recorded,
// without duplicates, missing no more than ~100 ms of recording before the death.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <random>

#include "e2e/crash_progress.hpp"
#include "support.hpp"
#include "synth/tracing.hpp"

namespace st = synth::tracing;
using st::testing::TempDir;

namespace {

constexpr std::int64_t kAllowedGapNs = 100'000'000;  // the checkpoint interval

pid_t start_child(const TempDir& work, const std::string& mode, long seed) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string dir = work.path.string();
    const std::string seed_text = std::to_string(seed);
    ::execl(CRASH_CHILD_BINARY, CRASH_CHILD_BINARY, dir.c_str(), mode.c_str(), seed_text.c_str(), nullptr);
    ::_exit(127);
  }
  return pid;
}

// The child's progress, copied out of the shared file.
struct Progress {
  std::int64_t session[kCrashThreads];
  std::int64_t recorded[kCrashThreads];
  std::int64_t last_ns[kCrashThreads];
};

const CrashProgress* map_progress(const TempDir& work) {
  const auto file = work.file("progress");
  if (!st::testing::wait_until([&] { return std::filesystem::exists(file) && std::filesystem::file_size(file) >= sizeof(CrashProgress); })) {
    return nullptr;
  }
  const int fd = ::open(file.c_str(), O_RDONLY);
  void* p = ::mmap(nullptr, sizeof(CrashProgress), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  return p == MAP_FAILED ? nullptr : static_cast<const CrashProgress*>(p);
}

Progress copy(const CrashProgress& p) {
  Progress out{};
  for (int t = 0; t < kCrashThreads; ++t) {
    out.session[t] = p.threads[t].session.load();
    out.recorded[t] = p.threads[t].recorded.load();
    out.last_ns[t] = p.threads[t].last_ns.load();
  }
  return out;
}

// Every session the child left: stored by its JSON sink, and recovered from its spill; the longer
// copy of a session found in both.
std::map<std::string, st::SessionTrace> everything_left(const TempDir& work, st::SpillRecovery& recovery) {
  std::map<std::string, st::SessionTrace> sessions;
  const auto keep = [&](st::SessionTrace t) {
    auto& slot = sessions[t.session_id];
    if (t.event_history.size() >= slot.event_history.size()) slot = std::move(t);
  };
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(work.path / "json", ec)) {
    // A kill during a write leaves the sink's temporary file (`<name>.json.tmp-<pid>-<n>`), never
    // a torn `.json`: what `synth-trace import` reads is the `.json` files.
    if (entry.path().extension() != ".json") continue;
    keep(st::SessionTrace::read_file(entry.path()));
  }
  st::testing::MemorySink sink;
  recovery = st::recover_spilled_sessions(work.path / "spill", sink);
  for (auto t : sink.traces()) keep(std::move(t));
  return sessions;
}

std::int64_t meta_int(const st::Event& e, const char* key) { return st::metadata(e)[key].as_int(); }

// Checks the prefix property of every session of every thread, and returns the largest span of
// recording (ns) missing before the death.
std::int64_t check_prefixes(const std::map<std::string, st::SessionTrace>& sessions, const Progress& progress) {
  std::int64_t worst_gap = 0;
  for (int t = 0; t < kCrashThreads; ++t) {
    std::int64_t previous_last_ns = 0;
    for (std::int64_t k = 0; k <= progress.session[t]; ++k) {
      const std::string id = "t" + std::to_string(t) + "-s" + std::to_string(k);
      const bool current = k == progress.session[t];
      const auto it = sessions.find(id);
      // When the next session's first event (or the last one recorded) happened.
      std::int64_t recorded_until = progress.last_ns[t];
      if (!current) {
        const auto next = sessions.find("t" + std::to_string(t) + "-s" + std::to_string(k + 1));
        if (next != sessions.end() && !next->second.event_history.empty()) {
          recorded_until = meta_int(next->second.event_history.front(), "t_ns");
        }
      }
      if (it == sessions.end()) {
        EXPECT_TRUE(current) << id << ": an earlier session is missing entirely";
        if (progress.recorded[t] > 0 && previous_last_ns > 0) worst_gap = std::max(worst_gap, recorded_until - previous_last_ns);
        continue;
      }
      const auto& events = it->second.event_history;
      for (std::size_t i = 0; i < events.size(); ++i) {
        EXPECT_EQ(meta_int(events[i], "n"), static_cast<std::int64_t>(i)) << id << ": not an exact prefix";
        EXPECT_EQ(meta_int(events[i], "thread"), t) << id;
        EXPECT_EQ(meta_int(events[i], "session"), k) << id;
      }
      if (current) {
        EXPECT_LE(static_cast<std::int64_t>(events.size()), progress.recorded[t] + 1) << id << ": more than was recorded";
      }
      const bool complete = static_cast<std::int64_t>(events.size()) == kEventsPerSession;
      if (!complete && !events.empty()) {
        worst_gap = std::max(worst_gap, recorded_until - meta_int(events.back(), "t_ns"));
      }
      if (!events.empty()) previous_last_ns = meta_int(events.back(), "t_ns");
    }
  }
  return worst_gap;
}

int wait_child(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

}  // namespace

TEST(Crash, SigkillAtRandomMomentsLosesAtMostTheLastCheckpointInterval) {
  std::mt19937 rng(20261202);
  int over_interval = 0;
  std::string gaps;
  constexpr int kTrials = 20;
  for (int trial = 0; trial < kTrials; ++trial) {
    TempDir work("crash");
    const pid_t pid = start_child(work, "record", trial);
    const CrashProgress* shared = map_progress(work);
    ASSERT_NE(shared, nullptr);
    ASSERT_TRUE(st::testing::wait_until([&] { return shared->threads[0].recorded.load() > 0; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 1500)(rng)));
    ::kill(pid, SIGKILL);
    const int status = wait_child(pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "trial " << trial;
    const Progress progress = copy(*shared);
    st::SpillRecovery recovery;
    const auto sessions = everything_left(work, recovery);
    EXPECT_TRUE(recovery.problems.empty());
    EXPECT_GE(recovery.aborted, 1u) << "the sessions being recorded are recovered";
    const std::int64_t gap = check_prefixes(sessions, progress);
    gaps += std::to_string(gap / 1'000'000) + " ";
    if (gap > kAllowedGapNs) ++over_interval;
    EXPECT_LT(gap, 1'000'000'000) << "trial " << trial;
    ::munmap(const_cast<CrashProgress*>(shared), sizeof(CrashProgress));
  }
  std::printf("missing recording before the kill, ms per trial: %s\n", gaps.c_str());
  // A loaded machine can deschedule the spill thread past its interval now and then.
  EXPECT_LE(over_interval, kTrials / 10) << "gaps (ms): " << gaps;
}

TEST(Crash, ACrashInsideAHookAndAnAbortLoseAtMostTheLastCheckpointInterval) {
  for (const std::string mode : {"hook-crash", "abort"}) {
    for (const long at_event : {200L, 1500L}) {
      TempDir work("crash");
      const pid_t pid = start_child(work, mode, at_event);
      const CrashProgress* shared = map_progress(work);
      ASSERT_NE(shared, nullptr);
      const int status = wait_child(pid);
      // Killed by the signal, or (under AddressSanitizer, which reports a SEGV first) exited failing.
      ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)) << mode;
      if (WIFSIGNALED(status)) EXPECT_EQ(WTERMSIG(status), mode == "abort" ? SIGABRT : SIGSEGV);
      const Progress progress = copy(*shared);
      st::SpillRecovery recovery;
      const auto sessions = everything_left(work, recovery);
      EXPECT_GE(recovery.sessions, 1u) << mode;
      const std::int64_t gap = check_prefixes(sessions, progress);
      EXPECT_LT(gap, 1'000'000'000) << mode << " at event " << at_event;
      ::munmap(const_cast<CrashProgress*>(shared), sizeof(CrashProgress));
    }
  }
}

TEST(Crash, SigtermWithTheHandlerStoresEveryActiveSessionAsAbortedThenTerminates) {
  TempDir work("crash");
  const pid_t pid = start_child(work, "sigterm", 0);
  const CrashProgress* shared = map_progress(work);
  ASSERT_NE(shared, nullptr);
  ASSERT_TRUE(st::testing::wait_until([&] { return shared->threads[kCrashThreads - 1].recorded.load() > 20; }));
  const Progress before = copy(*shared);  // recorded before the signal was sent
  ::kill(pid, SIGTERM);
  const int status = wait_child(pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the signal proceeds after the handler";
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  const Progress progress = copy(*shared);
  st::SpillRecovery recovery;
  const auto sessions = everything_left(work, recovery);
  EXPECT_EQ(recovery.sessions, 0u) << "everything was stored by the child itself";
  for (int t = 0; t < kCrashThreads; ++t) {
    const std::string id = "t" + std::to_string(t) + "-s" + std::to_string(progress.session[t]);
    const auto it = sessions.find(id);
    ASSERT_NE(it, sessions.end()) << id;
    ASSERT_FALSE(it->second.session_metadata.empty());
    EXPECT_EQ(it->second.session_metadata.back().data["status"].as_string(), "aborted");
    EXPECT_EQ(it->second.session_metadata.back().data["reason"].as_string(), "signal SIGTERM");
    if (progress.session[t] == before.session[t]) {
      EXPECT_GE(static_cast<std::int64_t>(it->second.event_history.size()), before.recorded[t])
          << id << ": everything recorded before the signal is stored";
    }
  }
  // The threads go on recording until the process ends; what they record after their session was
  // ended by the handler is dropped (counted in records_failed), so the stored sessions end at the
  // signal, each an exact prefix.
  EXPECT_LT(check_prefixes(sessions, progress), 1'000'000'000);
  ::munmap(const_cast<CrashProgress*>(shared), sizeof(CrashProgress));
}
