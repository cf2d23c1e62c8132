// Filter expressions compile to SQL whose values are all bound (the text never reaches the SQL),
// and bad expressions get errors naming the position and the problem.
#include <gtest/gtest.h>

#include "server/filter.hpp"

using namespace synth::tracing;
using namespace synth::tracing::server;

namespace {

std::string error_of(std::string_view expression) {
  try {
    compile_filter(expression);
  } catch (const FilterError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(Filter, CompilesToSqlWithBoundValues) {
  const SqlCondition c = compile_filter(R"(reward > 0.5 and model == "gpt-4o" and errors == 0)");
  EXPECT_EQ(c.sql, "(((s.reward > ?) AND list_contains(s.models, ?)) AND (s.errors IS NOT DISTINCT FROM ?))");
  EXPECT_EQ(c.params, (std::vector<Value>{0.5, "gpt-4o", 0.0}));

  const SqlCondition d = compile_filter("(Terminated OR steps >= 100) AND NOT experiment == 'baseline'");
  EXPECT_EQ(d.sql,
            "((COALESCE(s.terminated, false) OR (s.num_timesteps >= ?)) AND (NOT COALESCE((s.experiment_id IS NOT "
            "DISTINCT FROM ?), false)))");
  EXPECT_EQ(d.params, (std::vector<Value>{100.0, "baseline"}));

  const SqlCondition e = compile_filter(R"(system contains "env" and created_at >= "2025-01-01" and model in ("a", "b"))");
  EXPECT_EQ(e.params, (std::vector<Value>{"env", "2025-01-01T00:00:00.000000Z", "a", "b"}));
  EXPECT_NE(e.sql.find("list_has_any(s.models, [?, ?])"), std::string::npos) << e.sql;
  EXPECT_NE(e.sql.find("CAST(? AS TIMESTAMP)"), std::string::npos);

  // Whatever the text holds, it is a bound value.
  const SqlCondition f = compile_filter(R"(session_id == "x'); DROP TABLE events; --")");
  EXPECT_EQ(f.sql, "(s.session_id IS NOT DISTINCT FROM ?)");
  EXPECT_EQ(f.params, (std::vector<Value>{"x'); DROP TABLE events; --"}));
  EXPECT_EQ(compile_filter("experiment == null").params, (std::vector<Value>{Value()}));
  EXPECT_EQ(compile_filter(R"(first_message contains "say \"hi\"")").params, (std::vector<Value>{"say \"hi\""}));
}

TEST(Filter, AFlagComparedWithTrueOrFalseReadsNoValueAsFalse) {
  // As `terminated` alone and ?terminated=false read a session without environment events:
  // "terminated == false" found fewer sessions than "not terminated".
  EXPECT_EQ(compile_filter("terminated == false").sql, "(COALESCE(s.terminated, false) IS NOT DISTINCT FROM ?)");
  EXPECT_EQ(compile_filter("terminated != true").sql, "(COALESCE(s.terminated, false) IS DISTINCT FROM ?)");
  EXPECT_EQ(compile_filter("not terminated").sql, "(NOT COALESCE(COALESCE(s.terminated, false), false))");
  // Asked for by name, no value is no value.
  EXPECT_EQ(compile_filter("terminated == null").sql, "(s.terminated IS NOT DISTINCT FROM ?)");
}

TEST(Filter, ErrorsNameThePositionAndTheProblem) {
  EXPECT_NE(error_of("rewrd > 1").find("at character 1: unknown field 'rewrd' (fields: session_id (text)"), std::string::npos)
      << error_of("rewrd > 1");
  EXPECT_EQ(error_of("reward > "), "filter: at character 10: expected a value for 'reward', found the end");
  EXPECT_EQ(error_of("reward > 'high'"), "filter: at character 10: 'reward' is a number: write the value without quotes");
  EXPECT_EQ(error_of("model > 'a'"), "filter: at character 7: 'model' is a list of names: compare it with ==, != or contains");
  EXPECT_EQ(error_of("reward > 1 cost < 2"), "filter: at character 12: expected 'and', 'or' or the end, found 'cost'");
  EXPECT_EQ(error_of("(reward > 1"), "filter: at character 12: expected ')' to close the '(' at character 1, found the end");
  EXPECT_EQ(error_of("model == \"gpt"), "filter: at character 10: the text starting here is not closed (with \")");
  EXPECT_EQ(error_of("reward >> 1"), "filter: at character 9: expected a value for 'reward', found '>'");
  EXPECT_EQ(error_of("created_at > 'yesterday'"),
            "filter: at character 14: \"yesterday\" is not an ISO-8601 time (e.g. \"2025-01-31T12:00:00Z\")");
  EXPECT_EQ(error_of("reward ~ 1"), "filter: at character 8: unexpected character '~'");
  EXPECT_EQ(error_of("terminated > true"), "filter: at character 12: 'terminated' is true/false: compare it with == or !=");
  EXPECT_EQ(error_of(""), "filter: at character 1: expected a field, found the end (fields: " + filter_fields() + ")");
}
