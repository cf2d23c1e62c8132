#include "secrets.hpp"

#include <atomic>
#include <mutex>

#include "synth/tracing/pii.hpp"

namespace synth::tracing {

namespace {
std::atomic<const detail::RegisteredSecret*> g_secrets{nullptr};
std::mutex g_register_mutex;
}  // namespace

void register_secret(std::string_view secret) {
  if (secret.size() < kMinSecretBytes) return;
  std::lock_guard lock(g_register_mutex);
  const detail::RegisteredSecret* head = g_secrets.load(std::memory_order_relaxed);
  for (const auto* s = head; s != nullptr; s = s->next) {
    if (s->text == secret) return;
  }
  // Never freed: readers hold no lock, so a node must outlive every reader (the process).
  g_secrets.store(new detail::RegisteredSecret{std::string(secret), head}, std::memory_order_release);
}

namespace detail {

const RegisteredSecret* registered_secrets() noexcept { return g_secrets.load(std::memory_order_acquire); }

std::string redact_credentials(std::string_view text) {
  // Never destroyed: diagnostics may be reported while the process exits.
  static const PiiMasker* const credentials = new PiiMasker({PiiPattern{"api_key", "", ""}}, false);
  return credentials->mask(text);
}

}  // namespace detail

}  // namespace synth::tracing
