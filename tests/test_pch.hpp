// Precompiled into every test program (tests/CMakeLists.txt): the headers that nearly all of them
// include, parsed once per build instead of once per test file.
//
// Standard and third-party headers only, never this project's: ccache may hand back a precompiled
// header built from an earlier version of a header whose code is unchanged but whose comments
// differ (its preprocessor-mode key ignores comments), and GCC then no longer recognises that
// header's `#pragma once` by its checksum and includes it a second time ("redefinition of ...").
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
