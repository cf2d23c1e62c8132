#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "failing_allocator.hpp"
#include "synth/tracing/json.hpp"

using synth::tracing::TraceFormatError;
using synth::tracing::Value;
using synth::tracing::ValueTypeError;

TEST(Value, LiteralOfPairsIsAnObjectInInsertionOrder) {
  Value v = {{"zeta", 1}, {"alpha", "two"}, {"mid", {1, 2, 3}}};
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v.as_object()[0].first, "zeta");
  EXPECT_EQ(v.as_object()[1].first, "alpha");
  EXPECT_EQ(v["alpha"].as_string(), "two");
  EXPECT_TRUE(v["mid"].is_array());
  EXPECT_EQ(v["mid"][2].as_int(), 3);
  EXPECT_EQ(v.dump(), R"({"zeta":1,"alpha":"two","mid":[1,2,3]})");
}

TEST(Value, ListThatIsNotAllPairsIsAnArray) {
  Value v = {1, "a", true, nullptr, 2.5};
  ASSERT_TRUE(v.is_array());
  EXPECT_EQ(v.dump(), R"([1,"a",true,null,2.5])");
  Value pairs_with_number_first = {{1, "a"}, {2, "b"}};
  EXPECT_TRUE(pairs_with_number_first.is_array());
  EXPECT_EQ(pairs_with_number_first.dump(), R"([[1,"a"],[2,"b"]])");
}

TEST(Value, NestedObjectLiterals) {
  Value v = {{"action", "move_north"}, {"params", {{"speed", 2}, {"tags", {"x", "y"}}}}};
  EXPECT_EQ(v["params"]["speed"].as_int(), 2);
  EXPECT_EQ(v["params"]["tags"][1].as_string(), "y");
}

// C strings in a literal are copied straight into their key or value (ValueInit keeps the
// pointer); every other way of giving a key or a string, and null, must come out the same.
TEST(Value, LiteralKeysAndStringsOfEveryKindAndNullsStayWhatTheyAre) {
  const char key_array[] = "array";
  const char* key_pointer = "pointer";
  const std::string key_string = "string";
  const std::string_view key_view = "view";
  const std::string long_text(40, 'x');
  Value v = {{key_array, "a"},     {key_pointer, key_pointer}, {key_string, long_text.c_str()},
             {key_view, key_view}, {"null", nullptr},          {"nested", {{"inner", "b"}, {"list", {"c", nullptr}}}}};
  EXPECT_EQ(v.dump(), R"({"array":"a","pointer":"pointer","string":")" + long_text +
                          R"(","view":"view","null":null,"nested":{"inner":"b","list":["c",null]}})");
  EXPECT_TRUE(v["null"].is_null());
  const Value pair_of_strings = {"k", "v"};  // not a pair inside a list: an array
  EXPECT_EQ(pair_of_strings.dump(), R"(["k","v"])");
  EXPECT_EQ(Value::array({"k", nullptr}).dump(), R"(["k",null])");
}

// Moves of a tagged union: every kind moves its content; assigning a value its own member or
// element (which the assignment frees) keeps the member's content.
TEST(Value, MovesAndAssignmentsFromOwnMembersKeepTheContent) {
  const std::string long_text(64, 'y');  // on the heap: a freed buffer would show
  for (const Value& original : {Value(), Value(true), Value(-3), Value(std::uint64_t{1} << 63), Value(2.5),
                                Value(long_text), Value::array({1, long_text}), Value{{"k", long_text}}}) {
    Value copy = original;
    Value moved(std::move(copy));
    EXPECT_EQ(moved, original);
    Value assigned = Value::array({long_text});  // a heap value assigned over
    assigned = std::move(moved);
    EXPECT_EQ(assigned, original);
    Value scalar = 7;  // and a scalar
    scalar = assigned;
    EXPECT_EQ(scalar, original);
  }
  Value object = {{"inner", {{"text", long_text}}}, {"other", 1}};
  object = std::move(object["inner"]);
  EXPECT_EQ(object, (Value{{"text", long_text}}));
  object = object["text"];
  EXPECT_EQ(object.as_string(), long_text);
  Value array = Value::array({Value::array({long_text, 2}), 3});
  array = std::move(array[0]);
  EXPECT_EQ(array, Value::array({long_text, 2}));
  array = std::move(array);  // self-move leaves it whole
  EXPECT_EQ(array, Value::array({long_text, 2}));
}

TEST(Value, ExplicitFactories) {
  EXPECT_EQ(Value::object().dump(), "{}");
  EXPECT_EQ(Value::array().dump(), "[]");
  // A two-string array stays an array when asked for explicitly.
  EXPECT_EQ(Value::array({"k", "v"}).dump(), R"(["k","v"])");
  EXPECT_EQ(Value::object({{"k", "v"}}).dump(), R"({"k":"v"})");
  EXPECT_THROW(Value::object({1, 2}), ValueTypeError);
}

TEST(Value, ScalarKindsAndAccessors) {
  EXPECT_TRUE(Value().is_null());
  EXPECT_TRUE(Value(nullptr).is_null());
  EXPECT_TRUE(Value(true).as_bool());
  EXPECT_EQ(Value(-5).as_int(), -5);
  EXPECT_EQ(Value(7u).kind(), Value::Kind::integer);
  EXPECT_EQ(Value(std::numeric_limits<std::uint64_t>::max()).kind(), Value::Kind::unsigned_integer);
  EXPECT_EQ(Value(std::numeric_limits<std::uint64_t>::max()).as_uint(), std::numeric_limits<std::uint64_t>::max());
  EXPECT_DOUBLE_EQ(Value(1.5f).as_double(), 1.5);
  EXPECT_EQ(Value(std::string("s")).as_string(), "s");
  EXPECT_EQ(Value(std::string_view("sv")).as_string(), "sv");
  EXPECT_EQ(Value(3.0).as_int(), 3);
  EXPECT_THROW(Value(3.5).as_int(), ValueTypeError);
  EXPECT_THROW(Value("x").as_int(), ValueTypeError);
  EXPECT_THROW(Value(1).as_string(), ValueTypeError);
  EXPECT_THROW(Value(-1).as_uint(), ValueTypeError);
  try {
    (void)Value(1).as_string();
  } catch (const ValueTypeError& e) {
    EXPECT_STREQ(e.what(), "JSON value is an integer, not a string");
  }
}

TEST(Value, ObjectEditing) {
  Value v;
  v["a"] = 1;  // null becomes an object
  v["b"]["c"] = "deep";
  v.set("a", 2);
  EXPECT_EQ(v.dump(), R"({"a":2,"b":{"c":"deep"}})");
  EXPECT_TRUE(v.contains("b"));
  EXPECT_FALSE(v.contains("z"));
  const Value& cv = v;
  EXPECT_TRUE(cv["missing"].is_null());
  EXPECT_TRUE(cv["b"]["missing"]["deeper"].is_null());
  EXPECT_EQ(cv.find("z"), nullptr);
  Value arr;
  arr.push_back(1);
  arr.push_back("two");
  EXPECT_EQ(arr.dump(), R"([1,"two"])");
  EXPECT_THROW(arr[5], ValueTypeError);
  Value number = 5;
  EXPECT_THROW(number["k"], ValueTypeError);
}

TEST(Value, EqualityIsJsonEquality) {
  EXPECT_EQ((Value{{"a", 1}, {"b", 2}}), (Value{{"b", 2}, {"a", 1}}));
  EXPECT_NE((Value{{"a", 1}, {"b", 2}}), (Value{{"a", 1}, {"c", 2}}));
  EXPECT_NE((Value{{"a", 1}}), (Value{{"a", 1}, {"b", 2}}));
  EXPECT_EQ(Value(1), Value(1.0));
  EXPECT_NE(Value(1), Value(1.5));
  EXPECT_EQ(Value(5u), Value(5));
  EXPECT_NE(Value(std::numeric_limits<std::uint64_t>::max()), Value(-1));
  EXPECT_NE(Value("1"), Value(1));
  EXPECT_NE(Value(), Value(false));
  EXPECT_EQ(Value::array({1, 2}), Value::array({1, 2}));
  EXPECT_NE(Value::array({1, 2}), Value::array({2, 1}));
}

TEST(Value, ConvertsFromAndToNlohmann) {
  nlohmann::json j = {{"name", "agent"}, {"n", 3}, {"u", 18446744073709551615ULL}, {"x", 0.25},
                      {"list", {1, "a", nullptr}}, {"flag", false}};
  Value v = j;
  EXPECT_EQ(v["name"].as_string(), "agent");
  EXPECT_EQ(v["u"].as_uint(), 18446744073709551615ULL);
  EXPECT_TRUE(v["list"][2].is_null());
  nlohmann::json back = v;
  EXPECT_EQ(back, j);
  nlohmann::ordered_json ordered = nlohmann::ordered_json::parse(R"({"z":1,"a":2})");
  Value from_ordered = ordered;
  EXPECT_EQ(from_ordered.as_object()[0].first, "z");
}

TEST(Value, ParseAndDumpRoundTrip) {
  const char* text = R"({"s":"h\u00e9llo \"q\" \\ \n\t","i":-9223372036854775808,"u":18446744073709551615,)"
                     R"("d":1e-05,"big":1.7976931348623157e308,"t":true,"n":null,"a":[[],{}],"e":{}})";
  Value v = Value::parse(text);
  EXPECT_EQ(v["s"].as_string(), "h\xC3\xA9llo \"q\" \\ \n\t");
  EXPECT_EQ(v["i"].as_int(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(v["u"].as_uint(), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(v["d"].as_double(), 1e-05);
  EXPECT_EQ(Value::parse(v.dump()), v);
  EXPECT_EQ(Value::parse(v.dump({.indent = 2})), v);
}

TEST(Value, DoublesKeepTheirKindThroughText) {
  Value v = {{"whole", 3.0}, {"neg_zero", -0.0}, {"tiny", 5e-324}};
  const std::string text = v.dump();
  EXPECT_EQ(text, R"({"whole":3.0,"neg_zero":-0.0,"tiny":5e-324})");
  Value back = Value::parse(text);
  EXPECT_EQ(back["whole"].kind(), Value::Kind::floating);
  EXPECT_TRUE(std::signbit(back["neg_zero"].as_double()));
  EXPECT_EQ(back["tiny"].as_double(), 5e-324);
}

// simdjson 3.0.1's on-demand get_double (its portable kernel, which the library's inline code
// uses) misreads decimals of more than 19 significant digits: 0.1000000000000000000000000000001
// read as 5.08e-13. Such text (other writers, hand-edited files) reads as its nearest double.
TEST(Value, LongDecimalsReadAsTheirNearestDouble) {
  const std::pair<const char*, double> cases[] = {
      {"0.1000000000000000000000000000001", 0.1},
      {"-0.0604746718446744073709551615754106644", -0.060474671844674407},
      {"1.00000000000000000000000000000000000001e10", 1e10},
      {"3.14159265358979323846264338327950288", 3.141592653589793},
  };
  for (const auto& [text, expected] : cases) {
    EXPECT_EQ(Value::parse(text).as_double(), expected) << text;
    EXPECT_EQ(Value::parse(std::string("{\"x\":[") + text + "]}")["x"][0].as_double(), expected) << text;
  }
}

TEST(Value, NonFiniteDoublesAreWrittenAsNull) {
  Value v = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()};
  EXPECT_EQ(v.dump(), "[null,null]");
}

TEST(Value, ScalarDocuments) {
  EXPECT_EQ(Value::parse("42").as_int(), 42);
  EXPECT_EQ(Value::parse(" \"x\" ").as_string(), "x");
  EXPECT_TRUE(Value::parse("null").is_null());
  EXPECT_EQ(Value::parse("-1.5").as_double(), -1.5);
}

TEST(Value, PrettyPrinting) {
  Value v = {{"a", {1, 2}}, {"b", Value::object()}, {"c", Value::array()}};
  EXPECT_EQ(v.dump({.indent = 2}), "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n  \"c\": []\n}");
}

TEST(Value, BadJsonIsATraceFormatErrorWithPosition) {
  const auto expect_error = [](std::string_view text, std::string_view problem_part) {
    try {
      (void)Value::parse(text, "input.json");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const TraceFormatError& e) {
      EXPECT_EQ(e.source(), "input.json");
      EXPECT_NE(e.problem().find(problem_part), std::string::npos) << e.what();
    }
  };
  expect_error("", "empty");
  expect_error("{\"a\": 1", "truncated");
  expect_error("[1, 2", "truncated");
  expect_error("{\"a\": tru}", "literal");
  expect_error("{\"a\": 1} x", "after the JSON value");
  expect_error("[1,,2]", "");
  expect_error("{\"a\" 1}", "");
  expect_error("\"\xff\xfe\"", "UTF-8");
  expect_error("[123456789012345678901234567890]", "64 bits");
  expect_error("[1e999]", "out of range");
  expect_error(std::string(2000, '[') + std::string(2000, ']'), "deeper");
}

TEST(Value, ErrorNamesLineAndColumn) {
  try {
    (void)Value::parse("{\n  \"a\": 1,\n  \"b\": tru\n}");
    FAIL();
  } catch (const TraceFormatError& e) {
    EXPECT_EQ(e.line(), 3u);
    EXPECT_EQ(e.column(), 8u);
  }
}

// A copy that runs out of memory at any of its allocations throws std::bad_alloc and harms
// neither value (libstdc++ 12's std::variant copy crashed: it destroyed a string it had not
// constructed).
TEST(Value, ACopyThatRunsOutOfMemoryThrowsAndLeavesBothValuesWhole) {
  const Value original{{"type", "a string longer than the small-string buffer"},
                       {"nested", {{"list", Value::array({"another long string, on the heap", 1, 2.5})}}}};
  const std::string text = original.dump();
  bool completed = false;
  for (std::size_t k = 1; k < 100 && !completed; ++k) {
    Value target{{"kept", "the target's own long value, kept on failure"}};
    synth::tracing::testing::fail_allocation_in(k);
    try {
      Value copy(original);
      target = original;
      completed = synth::tracing::testing::allocation_failure_pending();
    } catch (const std::bad_alloc&) {
    }
    synth::tracing::testing::fail_allocation_in(0);
    EXPECT_EQ(original.dump(), text);
    EXPECT_TRUE(target == original || target.dump() == R"({"kept":"the target's own long value, kept on failure"})")
        << target.dump();
  }
  EXPECT_TRUE(completed) << "a copy makes fewer than 100 allocations";
}
