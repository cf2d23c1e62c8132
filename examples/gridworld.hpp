// A small grid world and a scripted policy: the toy environment of the examples and of
// `synth-trace demo`. Example code, header-only.
#pragma once

#include <algorithm>
#include <array>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <synth/tracing/json.hpp>

namespace gridworld {

namespace st = synth::tracing;

// A size x size grid with walls; the agent starts top-left and looks for the goal.
class GridWorld {
 public:
  GridWorld(int size, std::mt19937& rng) : size_(size), walls_(static_cast<std::size_t>(size * size), false) {
    std::uniform_int_distribution<int> cell(0, size - 1);
    do {
      goal_ = {cell(rng), cell(rng)};
    } while (goal_[0] + goal_[1] < size);  // keep the goal away from the start
    for (int i = 0; i < size; ++i) {
      const int x = cell(rng);
      const int y = cell(rng);
      if ((x != 0 || y != 0) && (x != goal_[0] || y != goal_[1])) walls_[static_cast<std::size_t>(y * size + x)] = true;
    }
  }

  st::Value observe() const {
    return {{"position", {pos_[0], pos_[1]}},
            {"goal", {goal_[0], goal_[1]}},
            {"blocked", {{"north", blocked(0, -1)}, {"south", blocked(0, 1)}, {"west", blocked(-1, 0)},
                         {"east", blocked(1, 0)}}}};
  }

  struct StepResult {
    double reward;
    bool terminated;
    bool bumped;
  };

  StepResult step(const std::string& action) {
    const auto [dx, dy] = delta(action);
    if (blocked(dx, dy)) return {-0.1, false, true};
    pos_ = {pos_[0] + dx, pos_[1] + dy};
    const bool done = pos_ == goal_;
    return {done ? 1.0 : -0.01, done, false};
  }

  std::array<int, 2> position() const { return pos_; }
  std::array<int, 2> goal() const { return goal_; }

  static std::pair<int, int> delta(const std::string& action) {
    if (action == "north") return {0, -1};
    if (action == "south") return {0, 1};
    if (action == "west") return {-1, 0};
    return {1, 0};
  }

 private:
  bool blocked(int dx, int dy) const {
    const int x = pos_[0] + dx;
    const int y = pos_[1] + dy;
    return x < 0 || y < 0 || x >= size_ || y >= size_ || walls_[static_cast<std::size_t>(y * size_ + x)];
  }

  int size_;
  std::vector<bool> walls_;
  std::array<int, 2> pos_{0, 0};
  std::array<int, 2> goal_{0, 0};
};

// Greedy toward the goal around walls, with some exploration: a stand-in for a model.
inline std::pair<std::string, std::string> scripted_policy(const st::Value& obs, std::mt19937& rng) {
  const auto& pos = obs["position"];
  const auto& goal = obs["goal"];
  const auto& blocked = obs["blocked"];
  std::vector<std::string> preferred;
  if (goal[0].as_int() > pos[0].as_int()) preferred.emplace_back("east");
  if (goal[1].as_int() > pos[1].as_int()) preferred.emplace_back("south");
  if (goal[0].as_int() < pos[0].as_int()) preferred.emplace_back("west");
  if (goal[1].as_int() < pos[1].as_int()) preferred.emplace_back("north");
  std::shuffle(preferred.begin(), preferred.end(), rng);
  for (const auto& a : preferred) {
    if (!blocked[a].as_bool() && std::uniform_real_distribution<>(0, 1)(rng) > 0.1) {
      return {a, "moving toward the goal"};
    }
  }
  static const char* kAll[] = {"north", "south", "west", "east"};
  return {kAll[std::uniform_int_distribution<int>(0, 3)(rng)], "exploring around an obstacle"};
}

}  // namespace gridworld
