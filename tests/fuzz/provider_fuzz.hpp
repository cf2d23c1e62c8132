// Shared by the provider harnesses: one provider's answer parsers run on the input as a whole
// answer and as a stream of server-sent events.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "lm/wire.hpp"

namespace synth::tracing::fuzz {

using ParseAnswer = LMResponse (*)(std::string_view body, std::string_view provider);
using StartStream = std::unique_ptr<lm_detail::StreamAccumulator> (*)(std::string provider);

/// Promises: a malformed answer or stream raises LMResponseError and nothing else; the text of a
/// streamed answer is exactly the pieces delivered to the caller; the error message of any body
/// can be taken.
inline void run_provider(const std::uint8_t* data, std::size_t size, ParseAnswer parse, StartStream start) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  try {
    (void)parse(body, "fuzz");
  } catch (const LMResponseError&) {
  }
  (void)lm_detail::error_message(body);

  std::unique_ptr<lm_detail::StreamAccumulator> stream = start("fuzz");
  std::string delivered;
  const lm_detail::OnText on_text = [&](std::string_view piece) { delivered += piece; };
  lm_detail::SseParser sse;
  try {
    sse.feed(body, [&](std::string_view name, std::string_view event) { (void)stream->on_event(name, event, on_text); });
    const LMResponse answer = stream->finish();
    check(answer.text == delivered, "the text of a streamed answer is the pieces delivered");
  } catch (const LMResponseError&) {
  }
}

}  // namespace synth::tracing::fuzz
