// The PII masker. The input is fuzzer-chosen text with known items planted at fuzzer-chosen
// places: an email, a US SSN that passes the validity rules, a Luhn-valid card and API keys of
// known formats, each set apart from the text around it by a separator (whitespace or
// punctuation: an item glued to letters or digits may rightly become part of a longer token).
// Promises: no crash; no planted item is left in the masked text (the union of all matches is
// masked, so no other match, overlapping or adjacent, can leak a part of it).
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "synth/tracing/pii.hpp"

namespace st = synth::tracing;

namespace {

constexpr std::array<std::string_view, 12> kItems = {
    "jane.doe@example.com",
    "ops+alerts@mail.example.org",
    "123-45-6789",
    "219 09 9999",
    "4111 1111 1111 1111",
    "5500-0000-0000-0004",
    "378282246310005",
    "sk-proj-Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY",
    "sk-ant-api03-Zx8Cv6Bn4Mq2Wd0Ef8Rt6Yu4Io2Pa0Sd",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "AKIAIOSFODNN7EXAMPLE",
    "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
};
constexpr std::string_view kSeparators = " \n\t,;()\"'<>[]{}|";

std::size_t occurrences(std::string_view text, std::string_view item) {
  std::size_t n = 0;
  for (std::size_t at = text.find(item); at != std::string_view::npos; at = text.find(item, at + 1)) ++n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const st::PiiMasker masker;
  FuzzedDataProvider input(data, size);
  std::string text;
  std::array<std::size_t, kItems.size()> planted{};
  while (input.remaining_bytes() > 0) {
    text += input.ConsumeRandomLengthString(64);
    if (input.remaining_bytes() == 0) break;
    const std::size_t item = input.ConsumeIntegralInRange<std::size_t>(0, kItems.size() - 1);
    text += kSeparators[input.ConsumeIntegralInRange<std::size_t>(0, kSeparators.size() - 1)];
    text += kItems[item];
    text += kSeparators[input.ConsumeIntegralInRange<std::size_t>(0, kSeparators.size() - 1)];
    ++planted[item];
  }
  const std::string masked = masker.mask(std::string_view(text));
  for (std::size_t i = 0; i < kItems.size(); ++i) {
    // A copy the text itself forms (say, the card's digits inside a longer number) is not planted.
    if (planted[i] == 0 || occurrences(text, kItems[i]) != planted[i]) continue;
    if (masked.find(kItems[i]) != std::string::npos) {
      std::fprintf(stderr, "planted \"%s\" left in the masked text:\ntext:   %s\nmasked: %s\n",
                   std::string(kItems[i]).c_str(), st::Value(text).dump().c_str(), st::Value(masked).dump().c_str());
      st::fuzz::check(false, "no planted item is left in the masked text");
    }
  }
  return 0;
}
