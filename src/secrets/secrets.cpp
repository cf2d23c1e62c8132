#include "secrets/secrets.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

#include "synth/tracing/secrets.hpp"

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
  if (const PolicyLayer* policy = policy_layer()) return policy->redact_credentials(text);
  std::string redacted(text);
  mask_registered_secrets(redacted);
  return redacted;
}

bool mask_registered_secrets(std::string& text) {
  if (registered_secrets() == nullptr) return false;
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  find_registered_secrets(text, [&](std::size_t start, std::size_t end) { spans.emplace_back(start, end); });
  if (spans.empty()) return false;
  std::sort(spans.begin(), spans.end());
  std::string out;
  out.reserve(text.size());
  std::size_t copied = 0;
  for (std::size_t i = 0; i < spans.size();) {
    const std::size_t start = spans[i].first;
    std::size_t end = spans[i].second;
    for (++i; i < spans.size() && spans[i].first < end; ++i) end = std::max(end, spans[i].second);
    out.append(text, copied, start - copied);
    out += kSecretToken;
    copied = end;
  }
  out.append(text, copied);
  text = std::move(out);
  return true;
}

void RegisteredSecretsMasker::mask_in_place(Value& value) const {
  switch (value.kind()) {
    case Value::Kind::string:
      mask_registered_secrets(value.as_string());
      break;
    case Value::Kind::array:
      for (Value& v : value.as_array()) mask_in_place(v);
      break;
    case Value::Kind::object:
      for (auto& [key, v] : value.as_object()) mask_in_place(v);
      break;
    default:
      break;
  }
}

}  // namespace detail

}  // namespace synth::tracing
