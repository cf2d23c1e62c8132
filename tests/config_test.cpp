#include <gtest/gtest.h>

#include <cstdlib>

#include "synth/tracing/config.hpp"
#include "synth/tracing/error.hpp"

namespace st = synth::tracing;

namespace {
// Sets an environment variable for the lifetime of the guard.
struct EnvGuard {
  EnvGuard(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~EnvGuard() { ::unsetenv(name_); }
  const char* name_;
};
}  // namespace

TEST(TracingConfig, Defaults) {
  const auto c = st::TracingConfig::load();
  EXPECT_TRUE(c.enabled);
  EXPECT_TRUE(c.save_dir.empty());
  EXPECT_EQ(c.max_finished_sessions, 100u);
  EXPECT_EQ(c.sink_queue_capacity, 1024u);
}

TEST(TracingConfig, BooleansInAnyCase) {
  for (const char* v : {"false", "FALSE", "0", "no", "No", "off"}) {
    EnvGuard g("SYNTH_TRACING_ENABLED", v);
    EXPECT_FALSE(st::TracingConfig::load().enabled) << v;
  }
  for (const char* v : {"true", "True", "1", "yes", "YES", "on"}) {
    EnvGuard g("SYNTH_TRACING_ENABLED", v);
    EXPECT_TRUE(st::TracingConfig::load().enabled) << v;
  }
}

TEST(TracingConfig, EnvironmentOverridesDefaults) {
  EnvGuard a("SYNTH_TRACING_SAVE_DIR", "/tmp/traces-here");
  EnvGuard b("SYNTH_TRACING_MAX_FINISHED_SESSIONS", "7");
  EnvGuard c("SYNTH_TRACING_SINK_QUEUE_CAPACITY", "64");
  const auto cfg = st::TracingConfig::load();
  EXPECT_EQ(cfg.save_dir, "/tmp/traces-here");
  EXPECT_EQ(cfg.max_finished_sessions, 7u);
  EXPECT_EQ(cfg.sink_queue_capacity, 64u);
}

TEST(TracingConfig, UnparsableValueNamesVariableAndValue) {
  EnvGuard g("SYNTH_TRACING_ENABLED", "maybe");
  try {
    (void)st::TracingConfig::load();
    FAIL();
  } catch (const st::Error& e) {
    EXPECT_STREQ(e.what(),
                 "environment variable SYNTH_TRACING_ENABLED=\"maybe\" is invalid: expected true/1/yes/on or "
                 "false/0/no/off");
  }
  EnvGuard h("SYNTH_TRACING_ENABLED", "1");
  EnvGuard n("SYNTH_TRACING_SINK_QUEUE_CAPACITY", "12abc");
  EXPECT_THROW((void)st::TracingConfig::load(), st::Error);
}

TEST(TracingConfig, Validation) {
  EXPECT_THROW(st::TracingConfig{.sink_queue_capacity = 0}.validate(), st::Error);
  EXPECT_NO_THROW(st::TracingConfig{}.validate());
}
