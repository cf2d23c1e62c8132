// What keeps `synth-trace serve` local: the Host header must name it (DNS rebinding), pages of
// other origins are refused and no CORS header is sent, a non-loopback address needs a token,
// the token is checked, and SQL runs read-only with a row and a time limit.
#include <gtest/gtest.h>

#include "server/fixtures.hpp"
#include "server/serve_process.hpp"
#include "support.hpp"

using namespace synth::tracing;
using synth::tracing::testing::TempDir;
using synth_test::sample_session;
using synth_test::raw_exchange;
using synth_test::ServeProcess;

namespace {

std::string get_with_host(int port, const std::string& host_line) {
  return raw_exchange(port, "GET /api/v1/health HTTP/1.1\r\n" + host_line + "Connection: close\r\n\r\n");
}

int status_of(const std::string& answer) { return answer.size() > 12 ? std::stoi(answer.substr(9, 3)) : 0; }

Value query(ServeProcess& serve, const std::string& sql, int* status = nullptr) {
  const auto r = serve.client()->Post("/api/v1/query", Value{{"sql", sql}}.dump(), "application/json");
  if (status) *status = r ? r->status : 0;
  return r ? Value::parse(r->body) : Value();
}

}  // namespace

TEST(Security, RequestsForAnotherHostAreRefused) {
  TempDir dir;
  ServeProcess serve(dir.db());
  const std::string port = std::to_string(serve.port());
  for (const std::string& host : std::vector<std::string>{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port, "LocalHost:" + port}) {
    EXPECT_EQ(status_of(get_with_host(serve.port(), "Host: " + host + "\r\n")), 200) << host;
  }
  // A page of evil.example whose name was rebound to 127.0.0.1 sends its own name.
  for (const std::string& host : std::vector<std::string>{"evil.example:" + port, "evil.example", "localhost:1", "127.0.0.1"}) {
    const std::string answer = get_with_host(serve.port(), "Host: " + host + "\r\n");
    EXPECT_EQ(status_of(answer), 403) << host;
    EXPECT_NE(answer.find("DNS rebinding"), std::string::npos) << answer;
  }
  EXPECT_EQ(status_of(get_with_host(serve.port(), "")), 403) << "no Host at all";
  // Two Host lines (RFC 9112: a 400): the first one decided, whatever the second said.
  const std::string twice = get_with_host(serve.port(), "Host: localhost:" + port + "\r\nHost: evil.example\r\n");
  EXPECT_EQ(status_of(twice), 400) << twice;
  EXPECT_NE(twice.find("more than one Host"), std::string::npos) << twice;
}

TEST(Security, OtherOriginsAreRefusedAndNoCorsHeaderIsSent) {
  TempDir dir;
  ServeProcess serve(dir.db());
  auto client = serve.client();
  const auto own = client->Get("/api/v1/health", httplib::Headers{{"Origin", serve.url()}});
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 200);
  EXPECT_FALSE(own->has_header("Access-Control-Allow-Origin"));
  const auto other = client->Get("/api/v1/health", httplib::Headers{{"Origin", "http://evil.example"}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 403);
  EXPECT_FALSE(other->has_header("Access-Control-Allow-Origin"));
  const auto preflight = client->Options("/api/v1/sessions", httplib::Headers{{"Origin", "http://evil.example"},
                                                                            {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(preflight);
  EXPECT_FALSE(preflight->has_header("Access-Control-Allow-Origin"));
  // A form post (a content type a browser sends without a preflight) is not taken.
  const auto form = client->Post("/api/v1/sessions", sample_session("f").to_json(), "text/plain");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 415);
  EXPECT_EQ(client->Post("/api/v1/query", "{\"sql\": \"SELECT 1\"}", "text/plain")->status, 415);
}

TEST(Security, ANonLoopbackAddressNeedsATokenAndTheTokenIsChecked) {
  TempDir dir;
  try {
    ServeProcess open(dir.db(), {"--host", "0.0.0.0"});
    ADD_FAILURE() << "served every address without a token";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--token"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir.db())) << "refused before the database was opened";

  ServeProcess serve(dir.db(), {"--token", "s3cret"});
  auto client = serve.client();
  const auto without = client->Get("/api/v1/health");
  ASSERT_TRUE(without);
  EXPECT_EQ(without->status, 401);
  EXPECT_NE(without->body.find("Authorization: Bearer"), std::string::npos);
  EXPECT_EQ(client->Get("/api/v1/health", httplib::Headers{{"Authorization", "Bearer wrong!"}})->status, 401);
  EXPECT_EQ(client->Get("/api/v1/health", httplib::Headers{{"Authorization", "Bearer s3cret"}})->status, 200);
  EXPECT_EQ(client->Post("/api/v1/sessions", sample_session("t").to_json(), "application/json")->status, 401);
}

TEST(Security, SqlRunsReadOnlyWithARowAndATimeLimit) {
  TempDir dir;
  ServeProcess serve(dir.db(), {"--query-max-rows", "10", "--query-timeout-ms", "300"});
  ASSERT_EQ(serve.client()->Post("/api/v1/sessions?wait=commit", sample_session("q").to_json(), "application/json")->status, 200);

  int status = 0;
  Value ok = query(serve, "SELECT session_id, num_events FROM session_traces", &status);
  EXPECT_EQ(status, 200) << ok.dump();
  EXPECT_EQ(ok["rows"], Value::array({Value::array({"q", 9})}));
  EXPECT_EQ(ok["columns"], Value::array({"session_id", "num_events"}));

  const Value many = query(serve, "SELECT * FROM range(1000)", &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(many["rows"].size(), 10u);
  EXPECT_EQ(many["truncated"], Value(true));

  for (const char* sql : {"DELETE FROM events", "INSERT INTO experiments (id, name) VALUES ('x', 'y')",
                          "CREATE TABLE t (x INT)", "DROP TABLE events", "UPDATE session_traces SET num_events = 0",
                          "ATTACH '/tmp/other.duckdb' AS other", "COPY events TO '/tmp/events.csv'",
                          "SELECT 1; DELETE FROM events", "SET enable_external_access = true",
                          "SELECT * FROM read_csv('/etc/passwd')", "INSTALL httpfs", "CHECKPOINT"}) {
    const Value refused = query(serve, sql, &status);
    EXPECT_EQ(status, 400) << sql << " -> " << refused.dump();
  }
  const Value slow = query(serve, "SELECT SUM(a.range * b.range) FROM range(1000000) a, range(1000000) b", &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(slow["error"].as_string().find("ran longer than 300 ms"), std::string::npos) << slow.dump();
  // Nothing changed, and the server still answers.
  EXPECT_EQ(query(serve, "SELECT COUNT(*) AS n FROM events")["rows"], Value::array({Value::array({9})}));
}
