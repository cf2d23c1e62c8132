#include <gtest/gtest.h>

#include "synth/tracing/model.hpp"

namespace st = synth::tracing;

TEST(Model, DefaultsFollowTheOriginal) {
  EXPECT_EQ(st::CAISEvent{}.system_instance_id, "llm_agent");
  EXPECT_EQ(st::EnvironmentEvent{}.system_instance_id, "environment");
  EXPECT_EQ(st::RuntimeEvent{}.system_instance_id, "runtime");
  EXPECT_TRUE(st::CAISEvent{}.metadata.is_object());
  EXPECT_TRUE(st::CAISEvent{}.system_state_before.is_null());
  EXPECT_EQ(st::SessionEventMessage{}.message_type, "unknown");
  EXPECT_FALSE(st::SessionEventMessage{}.time_record.has_value());
  static_assert(std::is_same_v<st::LMCAISEvent, st::CAISEvent>);
}

TEST(Model, DesignatedInitializersReadLikeTheOriginal) {
  st::CAISEvent e{.system_instance_id = "agent_123", .model_name = "gpt-4", .prompt_tokens = 50, .completion_tokens = 100};
  EXPECT_EQ(e.model_name, "gpt-4");
  EXPECT_FALSE(e.total_tokens.has_value());
  st::EnvironmentEvent env{.reward = 0.5, .terminated = true, .observation_diff = {{"hp", -3}}};
  EXPECT_EQ(env.observation_diff["hp"].as_int(), -3);
}

TEST(Model, EventTypeHelpers) {
  st::Event e = st::EnvironmentEvent{.system_instance_id = "env", .metadata = {{"k", 1}}};
  EXPECT_EQ(st::event_type(e), st::EventType::environment);
  EXPECT_EQ(st::event_type_name(st::event_type(e)), "environment");
  EXPECT_EQ(st::system_instance_id(e), "env");
  EXPECT_EQ(st::metadata(e)["k"].as_int(), 1);
  st::metadata(e)["k"] = 2;
  EXPECT_EQ(std::get<st::EnvironmentEvent>(e).metadata["k"].as_int(), 2);
  st::event_metadata(e).push_back("x");
  st::time_record(e) = st::TimeRecord{st::Timestamp{}, 4};
  EXPECT_EQ(std::get<st::EnvironmentEvent>(e).time_record->message_time, 4);
  EXPECT_EQ(st::parse_event_type("CAISEvent"), st::EventType::cais);
  EXPECT_EQ(st::parse_event_type("LMCAISEvent"), st::EventType::cais);
  EXPECT_EQ(st::parse_event_type("EnvironmentEvent"), st::EventType::environment);
  EXPECT_EQ(st::parse_event_type("runtime"), st::EventType::runtime);
  EXPECT_EQ(st::parse_event_type("RUNTIME"), st::EventType::runtime);
  EXPECT_FALSE(st::parse_event_type("tool").has_value());
}

TEST(Model, MakeMessageInOneLine) {
  const auto before = st::now();
  auto m = st::make_message("agent_123", {{"action", "move_north"}}, "action", 5);
  EXPECT_EQ(m.content["origin_system_id"].as_string(), "agent_123");
  EXPECT_EQ(m.content["payload"]["action"].as_string(), "move_north");
  EXPECT_EQ(m.message_type, "action");
  ASSERT_TRUE(m.time_record.has_value());
  EXPECT_EQ(m.time_record->message_time, 5);
  EXPECT_GE(m.timestamp, before);
  EXPECT_EQ(m.time_record->event_time, m.timestamp);
}

TEST(Model, NowHasMicrosecondPrecision) {
  const auto t = st::now();
  EXPECT_EQ(t.time_since_epoch().count() % 1000, 0);
  EXPECT_EQ(st::parse_timestamp(st::format_timestamp(t)), t);
}

TEST(Model, TimestampFormatting) {
  EXPECT_EQ(st::format_timestamp(st::Timestamp{}), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(st::format_timestamp(*st::parse_timestamp("2024-02-29T23:59:59.5+01:00")), "2024-02-29T22:59:59.500000Z");
  EXPECT_EQ(st::format_timestamp(*st::parse_timestamp("1969-12-31T23:59:59.000000001Z")),
            "1969-12-31T23:59:59.000000001Z");
}

TEST(Model, TraceEqualityCoversEverything) {
  st::SessionTrace a;
  a.session_id = "s";
  a.event_history.push_back(st::CAISEvent{.cost = 0.5});
  st::SessionTrace b = a;
  EXPECT_EQ(a, b);
  std::get<st::CAISEvent>(b.event_history[0]).cost = 0.25;
  EXPECT_NE(a, b);
}
