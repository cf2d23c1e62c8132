// Internal: the spans the PII detectors accept, kept inline so that scanning text that holds
// nothing never allocates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace synth::tracing::pii_detail {

struct Span {
  std::size_t start;
  std::size_t end;
  std::uint32_t detector;
};

class SpanList {
 public:
  void push(std::size_t start, std::size_t end, std::uint32_t detector) {
    if (size_ < kInline) {
      inline_[size_] = Span{start, end, detector};
    } else {
      if (heap_.empty()) heap_.assign(inline_.begin(), inline_.end());
      heap_.push_back(Span{start, end, detector});
    }
    ++size_;
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Span* begin() { return size_ <= kInline ? inline_.data() : heap_.data(); }
  Span* end() { return begin() + size_; }

 private:
  static constexpr std::size_t kInline = 32;
  std::array<Span, kInline> inline_;
  std::vector<Span> heap_;
  std::size_t size_ = 0;
};

}  // namespace synth::tracing::pii_detail
