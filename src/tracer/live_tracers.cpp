// Every live tracer of the process: what process exit and termination signals act on.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "diagnostics.hpp"
#include "worker_thread.hpp"
#include "tracer/state.hpp"

namespace synth::tracing {

namespace detail {
namespace {

class Registry {
 public:
  static Registry& instance() {
    static auto* registry = new Registry();  // never destroyed: atexit may run after statics die
    return *registry;
  }

  void track(const std::shared_ptr<TracerCore>& core) {
    std::lock_guard lock(mutex_);
    std::erase_if(cores_, [](const std::weak_ptr<TracerCore>& w) { return w.expired(); });
    cores_.push_back(core);
  }

  std::vector<std::shared_ptr<TracerCore>> all() {
    std::vector<std::shared_ptr<TracerCore>> live;
    std::lock_guard lock(mutex_);
    for (const auto& w : cores_) {
      if (auto c = w.lock()) live.push_back(std::move(c));
    }
    return live;
  }

 private:
  // Shuts down every live tracer at normal process exit, so nothing waiting for a sink or the
  // span export is lost. Each deadline counts from the same moment: exit waits for the longest,
  // not the sum.
  Registry() {
    std::atexit([] {
      const auto start = std::chrono::steady_clock::now();
      for (const auto& core : instance().all()) {
        core->shutdown(start + std::chrono::milliseconds(*core->config.shutdown_timeout_ms));
      }
    });
  }

  std::mutex mutex_;
  std::vector<std::weak_ptr<TracerCore>> cores_;
};

// ---- termination signals ----
// The handler only writes the signal's number to a pipe; a thread does the work, outside any
// signal context.

constexpr int kSignals[] = {SIGTERM, SIGINT};
int g_pipe[2] = {-1, -1};
struct sigaction g_previous[2];
std::atomic<bool> g_handling{false};

int slot_of(int signal) noexcept { return signal == SIGTERM ? 0 : 1; }

// Lets the signal proceed as it would have without us: the previous disposition, raised again.
void proceed(int signal) noexcept {
  ::sigaction(signal, &g_previous[slot_of(signal)], nullptr);
  ::raise(signal);
}

void on_signal(int signal) {
  if (g_handling.exchange(true)) {
    proceed(signal);  // a second signal while the first is handled: no more waiting
    return;
  }
  const auto byte = static_cast<unsigned char>(signal);
  const int saved_errno = errno;
  if (::write(g_pipe[1], &byte, 1) != 1) proceed(signal);
  errno = saved_errno;
}

void handle_signals_thread() {
  name_this_thread("synth-signals");
  for (;;) {
    unsigned char byte = 0;
    const ssize_t n = ::read(g_pipe[0], &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n != 1) return;
    const int signal = byte;
    const std::string reason = std::string("signal ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT");
    const auto start = std::chrono::steady_clock::now();
    for (const auto& core : Registry::instance().all()) {
      const std::size_t ended = core->end_all_sessions(reason);
      if (ended > 0) report(reason + ": ended " + std::to_string(ended) + " active session(s) as aborted");
    }
    for (const auto& core : Registry::instance().all()) {
      core->shutdown(start + std::chrono::milliseconds(*core->config.shutdown_timeout_ms));
    }
    proceed(signal);
    g_handling.store(false);
  }
}

}  // namespace

void LiveTracers::track(const std::shared_ptr<TracerCore>& core) { Registry::instance().track(core); }

std::vector<std::shared_ptr<TracerCore>> LiveTracers::all() { return Registry::instance().all(); }

}  // namespace detail

void handle_termination_signals() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (::pipe2(detail::g_pipe, O_CLOEXEC) != 0) {
      throw Error(std::string("handle_termination_signals: cannot create a pipe: ") + std::strerror(errno));
    }
    std::thread(detail::handle_signals_thread).detach();
    for (int signal : detail::kSignals) {
      struct sigaction action {};
      action.sa_handler = detail::on_signal;
      sigemptyset(&action.sa_mask);
      action.sa_flags = SA_RESTART;
      ::sigaction(signal, &action, &detail::g_previous[detail::slot_of(signal)]);
    }
  });
}

}  // namespace synth::tracing
