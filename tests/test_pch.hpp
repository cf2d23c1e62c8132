// Precompiled into every test program (tests/CMakeLists.txt): the headers that nearly all of them
// include, parsed once per build instead of once per test file.
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

#include "synth/tracing.hpp"
