// Internal: where each item of a session goes in the store. An item recorded both in a timestep
// and in the session's history is stored once, with both places.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "synth/tracing/model.hpp"

namespace synth::tracing::detail::duck {

// Where one stored item sits: its position in the history and/or its timestep.
struct Placement {
  std::optional<std::int64_t> history_index;
  std::optional<std::int64_t> step;  // index into session_time_steps
  std::optional<std::int64_t> step_position;
};

// Pairs each timestep item with an equal, not yet paired history item, so an item that appears
// in both places is stored once. Items only in a timestep or only in the history keep one place.
template <class Item, class KeyOf>
std::vector<std::pair<const Item*, Placement>> place_items(const std::vector<Item>& history,
                                                           const std::vector<SessionTimeStep>& steps,
                                                           const std::vector<Item> SessionTimeStep::*in_step,
                                                           KeyOf key_of) {
  std::vector<Placement> history_places(history.size());
  for (std::size_t h = 0; h < history.size(); ++h) history_places[h].history_index = static_cast<std::int64_t>(h);
  std::vector<std::pair<const Item*, Placement>> out;
  out.reserve(history.size());
  // The usual case (SessionTracer records them so): the history is the timesteps' items in
  // order. The pairing below would pair them by position too (each step item takes the first
  // unpaired equal history item); checked item by item, without its keys and maps.
  std::size_t position = 0;
  bool in_order = true;
  for (std::size_t s = 0; s < steps.size() && in_order; ++s) {
    const auto& items = steps[s].*in_step;
    for (std::size_t p = 0; p < items.size(); ++p, ++position) {
      if (position >= history.size() || !(history[position] == items[p])) {
        in_order = false;
        break;
      }
      history_places[position].step = static_cast<std::int64_t>(s);
      history_places[position].step_position = static_cast<std::int64_t>(p);
    }
  }
  if (in_order && position == history.size()) {
    for (std::size_t h = 0; h < history.size(); ++h) out.push_back({&history[h], history_places[h]});
    return out;
  }
  for (std::size_t h = 0; h < history.size(); ++h) history_places[h] = Placement{static_cast<std::int64_t>(h), {}, {}};
  std::unordered_map<std::string, std::vector<std::size_t>> unpaired;  // key -> history indices
  for (std::size_t h = 0; h < history.size(); ++h) unpaired[key_of(history[h])].push_back(h);
  std::vector<std::pair<const Item*, Placement>> step_only;
  for (std::size_t s = 0; s < steps.size(); ++s) {
    const auto& items = steps[s].*in_step;
    for (std::size_t p = 0; p < items.size(); ++p) {
      auto it = unpaired.find(key_of(items[p]));
      bool paired = false;
      if (it != unpaired.end()) {
        auto& candidates = it->second;
        for (auto c = candidates.begin(); c != candidates.end(); ++c) {
          if (history[*c] == items[p]) {
            history_places[*c].step = static_cast<std::int64_t>(s);
            history_places[*c].step_position = static_cast<std::int64_t>(p);
            candidates.erase(c);
            paired = true;
            break;
          }
        }
      }
      if (!paired) {
        step_only.push_back({&items[p], Placement{std::nullopt, static_cast<std::int64_t>(s), static_cast<std::int64_t>(p)}});
      }
    }
  }
  out.reserve(history.size() + step_only.size());
  for (std::size_t h = 0; h < history.size(); ++h) out.push_back({&history[h], history_places[h]});
  out.insert(out.end(), step_only.begin(), step_only.end());
  return out;
}

/// Each history item's timestep, from a producer that placed the items itself (the server's OTLP
/// mapping: server::item_steps): per item of event_history (message_history), the index of its
/// timestep in session_time_steps, -1 for none. The timesteps then hold no copies of the items
/// (their events and step_messages are empty): a timestep's items are the history items placed in
/// it, in history order. Stored as the same session with the copies made is stored, without
/// pairing copies and history items again by deep comparison (place_items); where equal items
/// make that pairing ambiguous, this is the producer's own placement.
struct ItemSteps {
  std::vector<std::int32_t> events;
  std::vector<std::int32_t> messages;
};

/// place_items() for a history whose items' timesteps are known (an ItemSteps list, checked to
/// fit `steps` timesteps).
template <class Item>
std::vector<std::pair<const Item*, Placement>> place_known_items(const std::vector<Item>& history,
                                                                 const std::vector<std::int32_t>& step_of, std::size_t steps) {
  std::vector<std::int64_t> next(steps, 0);
  std::vector<std::pair<const Item*, Placement>> out;
  out.reserve(history.size());
  for (std::size_t h = 0; h < history.size(); ++h) {
    Placement p{static_cast<std::int64_t>(h), std::nullopt, std::nullopt};
    if (const std::int32_t s = step_of[h]; s >= 0) {
      p.step = s;
      p.step_position = next[static_cast<std::size_t>(s)]++;
    }
    out.push_back({&history[h], p});
  }
  return out;
}

/// How many events and messages of a session each of its timesteps holds: its copies, else
/// (`known` given) the history items placed there. Counted only in the second case: the first
/// reads the copies' sizes, without allocating.
class StepSizes {
 public:
  StepSizes(const SessionTrace& t, const ItemSteps* known) : steps_(t.session_time_steps) {
    if (known == nullptr) return;
    events_.assign(steps_.size(), 0);
    messages_.assign(steps_.size(), 0);
    for (const std::int32_t s : known->events) {
      if (s >= 0) ++events_[static_cast<std::size_t>(s)];
    }
    for (const std::int32_t s : known->messages) {
      if (s >= 0) ++messages_[static_cast<std::size_t>(s)];
    }
  }
  std::int64_t events(std::size_t step) const {
    return events_.empty() ? static_cast<std::int64_t>(steps_[step].events.size()) : events_[step];
  }
  std::int64_t messages(std::size_t step) const {
    return messages_.empty() ? static_cast<std::int64_t>(steps_[step].step_messages.size()) : messages_[step];
  }

 private:
  const std::vector<SessionTimeStep>& steps_;
  std::vector<std::int64_t> events_;
  std::vector<std::int64_t> messages_;
};

inline std::string time_key(const std::optional<TimeRecord>& tr) {
  if (!tr) return "-";
  return std::to_string(tr->event_time.time_since_epoch().count()) + "/" + std::to_string(tr->message_time);
}

inline std::string event_key(const Event& e) {
  return std::string(event_type_name(event_type(e))) + "|" + system_instance_id(e) + "|" + time_key(time_record(e));
}

inline std::string message_key(const SessionEventMessage& m) {
  return m.message_type + "|" + std::to_string(m.timestamp.time_since_epoch().count()) + "|" + time_key(m.time_record);
}

}  // namespace synth::tracing::detail::duck
