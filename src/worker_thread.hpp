// Internal: a background thread that can be stopped from any thread, itself included.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace synth::tracing::detail {

/// How long a shutdown waits past its deadline for a thread it asked to stop (an exporter
/// honouring SpanExporter::shutdown() ends within milliseconds) before leaving it behind.
inline constexpr std::chrono::milliseconds kShutdownGrace{250};

/// Names the calling thread (at most 15 characters; a longer name is refused, harmlessly): what
/// `top -H`, `ps -L`, gdb and perf show for it. Threads it starts afterwards inherit the name.
void name_this_thread(const char* name) noexcept;

/// A background thread whose body owns (shares) everything it touches, so that stopping it is
/// safe from anywhere: from another thread, finish() waits for the body up to a deadline, then
/// joins it, or leaves a body stuck past the deadline (in a user's sink, say) to end by itself;
/// on the thread itself, finish() never joins.
class WorkerThread {
 public:
  WorkerThread() noexcept = default;
  /// Starts `body` on a new thread named `name` (at most 15 characters: what `top -H`, `ps -L`,
  /// gdb and perf show for it). An exception leaving `body` ends the thread, reported, not the
  /// program.
  WorkerThread(const char* name, std::function<void()> body);
  /// finish() without waiting: joins a finished body, leaves a running one.
  ~WorkerThread();
  WorkerThread(WorkerThread&&) noexcept = default;
  WorkerThread& operator=(WorkerThread&& other) noexcept;
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  /// True between the start and finish().
  bool running() const noexcept { return thread_.joinable(); }
  /// True when called on this thread.
  bool is_current() const noexcept { return thread_.get_id() == std::this_thread::get_id(); }
  /// Waits until the body returned, at most until `deadline`; true when it did (or is not
  /// running). False at once on the thread itself.
  bool wait_until(std::chrono::steady_clock::time_point deadline) noexcept;
  /// wait_until(deadline), then joins the thread: true. On the thread itself, or when the body
  /// still runs at the deadline, detaches it instead: false. True at once when not running.
  bool finish(std::chrono::steady_clock::time_point deadline) noexcept;

 private:
  struct Done {
    std::mutex mutex;
    std::condition_variable changed;
    bool done = false;  // guarded by mutex
  };
  std::shared_ptr<Done> done_;
  std::thread thread_;
};

}  // namespace synth::tracing::detail
