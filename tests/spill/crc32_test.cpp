#include "spill/crc32.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>

namespace {

using synth::tracing::detail::crc32;

TEST(Crc32, TheStandardCheckValue) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32(""), 0u);
}

// Spill files written by earlier versions carry zlib's checksums: every length and alignment
// (the 8-byte loop and the tail) must agree with it, also when continued.
TEST(Crc32, EqualsZlibsForEveryLengthAndOffset) {
  std::mt19937 random(7);
  std::string bytes(300, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  for (std::size_t offset = 0; offset < 9; ++offset) {
    for (std::size_t length = 0; offset + length <= bytes.size(); length += 7) {
      const std::string_view part(bytes.data() + offset, length);
      const auto expected =
          static_cast<std::uint32_t>(::crc32(0L, reinterpret_cast<const Bytef*>(part.data()), static_cast<uInt>(length)));
      ASSERT_EQ(crc32(part), expected) << "offset " << offset << ", length " << length;
    }
  }
  const std::string_view all(bytes);
  EXPECT_EQ(crc32(all.substr(100), crc32(all.substr(0, 100))), crc32(all));
}

}  // namespace
