#include "tracer/state.hpp"

namespace synth::tracing::detail {

HookList::~HookList() {
  for (Node* node = first_.load(std::memory_order_acquire); node != nullptr;) {
    Node* next = node->next.load(std::memory_order_acquire);
    delete node;
    node = next;
  }
}

void HookList::add(TraceHooks hooks) {
  const bool ends_sessions = bool(hooks.on_session_end);
  auto node = std::make_unique<Node>(std::move(hooks));
  std::lock_guard lock(add_mutex_);
  // Published complete (release): a reader that reaches the node sees its hooks.
  if (last_ == nullptr) {
    first_.store(node.get(), std::memory_order_release);
  } else {
    last_->next.store(node.get(), std::memory_order_release);
  }
  last_ = node.release();
  if (ends_sessions) ends_sessions_.store(true, std::memory_order_release);
}

}  // namespace synth::tracing::detail
