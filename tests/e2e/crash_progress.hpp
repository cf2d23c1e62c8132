// What crash_child has recorded, in memory shared with crash_test (a mapped file).
#pragma once

#include <atomic>
#include <cstdint>

inline constexpr int kCrashThreads = 3;
inline constexpr std::int64_t kEventsPerSession = 400;

struct ThreadProgress {
  std::atomic<std::int64_t> session{-1};   // the session being recorded
  std::atomic<std::int64_t> recorded{0};   // events recorded in it
  std::atomic<std::int64_t> last_ns{0};    // wall time of the last one (its metadata t_ns)
};

struct CrashProgress {
  std::atomic<int> ready{0};
  ThreadProgress threads[kCrashThreads];
};
