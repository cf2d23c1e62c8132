// What the PiiMasker tests share (pii_test.cpp, pii_corpus_test.cpp): one masker with the
// built-in detectors, and masking through it.
#pragma once

#include <string>
#include <string_view>

#include "synth/tracing/pii.hpp"

namespace synth::tracing::pii_fixture {

inline const PiiMasker& masker() {
  static const PiiMasker m;
  return m;
}

// (PiiMasker::mask("literal") is ambiguous between the string_view and the Value overloads.)
inline std::string masked(const PiiMasker& m, std::string_view text) { return m.mask(text); }
inline std::string mask(std::string_view text) { return masker().mask(text); }

}  // namespace synth::tracing::pii_fixture
