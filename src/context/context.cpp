#include <algorithm>

#include "tracer/state.hpp"

namespace synth::tracing {

namespace detail {
namespace {
// At most one entry per tracer that has something current on this thread; usually one.
thread_local std::vector<Context> t_contexts;

// At most one entry per tracer that ended a session on this thread.
struct EndedSession {
  std::weak_ptr<const TracerCore> core;  // weak: an entry never keeps a tracer alive
  std::shared_ptr<FinishedSession> session;
};
thread_local std::vector<EndedSession> t_ended;
}  // namespace

std::shared_ptr<FinishedSession> EndedOnThisThread::remember(const std::shared_ptr<TracerCore>& core,
                                                             std::shared_ptr<FinishedSession> session) noexcept {
  std::erase_if(t_ended, [](const EndedSession& e) { return e.core.expired(); });  // tracers destroyed since
  for (EndedSession& e : t_ended) {
    if (e.core.lock() == core) {
      std::swap(e.session, session);
      return session;
    }
  }
  try {
    t_ended.push_back({core, std::move(session)});
  } catch (...) {
    // Out of memory: this thread finds the session among the kept ones only.
  }
  return nullptr;
}

std::shared_ptr<FinishedSession> EndedOnThisThread::find(const TracerCore* core, std::string_view session_id) noexcept {
  for (const EndedSession& e : t_ended) {
    if (e.core.lock().get() == core && e.session->id() == session_id) return e.session;
  }
  return nullptr;
}

Context* ContextAccess::find(const TracerCore* core) noexcept {
  for (Context& c : t_contexts) {
    if (c.core_ == core) return &c;
  }
  return nullptr;
}

void ContextAccess::install(const Context& context) {
  // The most recently made current stays last: instrumentation without a named tracer uses it.
  if (Context* existing = find(context.core_)) {
    *existing = context;
    std::rotate(existing, existing + 1, t_contexts.data() + t_contexts.size());
  } else {
    t_contexts.push_back(context);
  }
}

Context* ContextAccess::innermost() noexcept { return t_contexts.empty() ? nullptr : &t_contexts.back(); }

void ContextAccess::remove(const TracerCore* core) noexcept {
  const auto it = std::find_if(t_contexts.begin(), t_contexts.end(), [core](const Context& c) { return c.core_ == core; });
  if (it != t_contexts.end()) t_contexts.erase(it);
}
}  // namespace detail

std::string_view Context::session_id() const noexcept { return session_ ? std::string_view(session_->id) : ""; }

ContextScope::ContextScope(const Context& context) {
  if (context.empty()) return;
  core_ = detail::ContextAccess::core(context);
  if (const Context* current = detail::ContextAccess::find(core_)) previous_ = *current;
  detail::ContextAccess::install(context);
}

ContextScope::~ContextScope() {
  if (core_ == nullptr) return;
  try {
    if (previous_) {
      detail::ContextAccess::install(*previous_);  // replaces in place: allocates only if removed meanwhile
    } else {
      detail::ContextAccess::remove(core_);
    }
  } catch (...) {
    detail::ContextAccess::remove(core_);  // out of memory: leave no context rather than a wrong one
  }
}

}  // namespace synth::tracing
