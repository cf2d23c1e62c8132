// Precompiled into each library target and the command line (CMakeLists.txt, cli/CMakeLists.txt):
// the standard headers most of their files include, parsed once per target instead of once per
// file (about 2 s of each file's compile time). Standard headers only, so that every file still
// has to include what it uses from this project and its dependencies.
#pragma once

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>
