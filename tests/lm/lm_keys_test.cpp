// The LM client's keys and providers: keys from the providers' variables, provider resolution,
// base URLs, and keys or credentials of any shape never leaving the process.
#include "lm/lm_fixture.hpp"

namespace {

using namespace lm_fixture;

TEST_F(LMTest, KeysComeFromTheProvidersVariable) {
  ::setenv("DEEPSEEK_API_KEY", "env-key-123456", 1);
  ::unsetenv("GROQ_API_KEY");
  server.script({Reply{.body = openai_answer("from env")}});
  st::LM deepseek({.model = "deepseek-chat", .base_url = server.url("/v1"), .max_retries = 0});
  // A local base_url makes the provider "local", which never gets a key from the environment.
  EXPECT_EQ(deepseek.provider(), "local");
  (void)deepseek.generate("hi");
  EXPECT_FALSE(server.last().has_header("Authorization"));

  st::LM named({.model = "deepseek-chat", .provider = "deepseek", .base_url = server.url("/v1")});
  (void)named.generate("hi");
  EXPECT_EQ(server.last().header("Authorization"), "Bearer env-key-123456");
  EXPECT_EQ(server.last().path, "/v1/chat/completions");
  EXPECT_EQ(json::parse(server.last().body).count("max_completion_tokens"), 0u);

  st::LM groq({.model = "llama-3.3-70b-versatile", .provider = "groq", .base_url = server.url("/v1"),
               .session_tracer = &tracer});
  const std::size_t before = server.request_count();
  {
    auto session = tracer.start_session("s-nokey");
    try {
      (void)groq.generate("hi");
      FAIL() << "no exception";
    } catch (const st::LMAuthenticationError& e) {
      EXPECT_NE(std::string(e.what()).find("GROQ_API_KEY"), std::string::npos);
    }
  }
  EXPECT_EQ(server.request_count(), before) << "nothing is sent without a key";
  ASSERT_EQ(cais_events(finished("s-nokey")).size(), 1u);
  ::unsetenv("DEEPSEEK_API_KEY");
}

TEST_F(LMTest, ProviderResolution) {
  EXPECT_EQ(st::LM({.model = "gpt-4o-mini", .api_key = "k"}).provider(), "openai");
  EXPECT_EQ(st::LM({.model = "claude-sonnet-4-20250514", .api_key = "k"}).provider(), "anthropic");
  EXPECT_EQ(st::LM({.model = "gemini-2.0-flash", .api_key = "k"}).provider(), "google");
  EXPECT_EQ(st::LM({.model = "llama3.1", .base_url = "http://localhost:11434/v1"}).provider(), "local");
  EXPECT_EQ(st::LM({.model = "x", .provider = "Grok", .api_key = "k"}).provider(), "xai");
  EXPECT_THROW(st::LM({.model = "my-own-model"}), st::LMError);
  EXPECT_THROW(st::LM({.model = ""}), st::LMError);
  EXPECT_THROW(st::LM({.model = "gpt-4o", .max_retries = -1}), st::LMError);
  try {
    st::LM({.model = "gpt-4o", .api_key = "k", .async_threads = 0});
    ADD_FAILURE() << "no exception";
  } catch (const st::LMError& e) {
    EXPECT_NE(std::string(e.what()).find("async_threads"), std::string::npos) << e.what();
  }
  EXPECT_THROW(st::LM({.model = "gpt-4o", .api_key = "k", .async_queue_capacity = 0}), st::LMError);
}

TEST_F(LMTest, TheLMAndProviderDetectionShareOneRegistry) {
  // Every spelling detection understands, the LM understands too.
  for (const std::string alias : {"google-genai", "GCP.Gemini", "MistralAI", "together_ai", "claude", "open_router",
                                  "groqcloud", "deepseek_ai", "Azure", "x_ai"}) {
    const std::string name = st::normalize_provider(alias);
    ASSERT_NE(name, "unknown");
    try {
      // Azure has no public endpoint: each user has their own.
      const std::string url = name == "azure_openai" ? "https://x.openai.azure.com/openai/v1" : "";
      st::LM lm({.model = "some-model", .provider = alias, .base_url = url, .api_key = "k"});
      EXPECT_EQ(lm.provider(), name) << alias;
    } catch (const st::LMError& e) {
      ADD_FAILURE() << alias << ": " << e.what();
    }
  }
  // Hosts detection names, the LM sends to.
  EXPECT_EQ(st::detect_provider("anything", "https://api.together.xyz/v1"), "together");
  st::LM together({.model = "meta-llama/Llama-3-8b", .base_url = "https://api.together.xyz/v1", .api_key = "k"});
  EXPECT_EQ(together.provider(), "together");
}

// Issue 9: the key in use (given, or read from the environment) is registered as a secret, so
// even a key of no known shape (Mistral's: 32 letters and digits) never appears in a trace, an
// error or a diagnostic, with PII masking off (this fixture) and a server echoing it everywhere.
TEST_F(LMTest, KeysOfAnyShapeNeverLeaveTheProcess) {
  const std::string given = "Mq7ZrT2vX9pL4nB8wK3sD6fH1jG5cV0a";
  const std::string from_env = "Ej4Uw8Ty2Oi6Pa0Sd3Fg7Hk1Lz5Xc9Vb";
  ::setenv("MISTRAL_API_KEY", from_env.c_str(), 1);
  st::testing::CapturedDiagnostics diagnostics;
  tracer.add_hook({.on_session_end = [&](const st::SessionTrace&) { throw std::runtime_error("hook saw " + given); }});
  server.script({Reply{.body = openai_answer("echo " + given + " / " + from_env)},
                 Reply{.status = 400, .body = json{{"error", {{"message", "bad key " + given + " or " + from_env}}}}.dump()}});
  st::LM with_key({.model = "mistral-small-latest", .provider = "mistral", .base_url = server.url("/v1"),
                   .api_key = given, .session_tracer = &tracer});
  st::LM with_env_key({.model = "mistral-small-latest", .provider = "mistral", .base_url = server.url("/v1"),
                       .session_tracer = &tracer});
  ::unsetenv("MISTRAL_API_KEY");
  std::string error;
  {
    auto session = tracer.start_session("s-keys");
    EXPECT_NE(with_key.generate("my keys: " + given + ", " + from_env).text.find(given), std::string::npos)
        << "the caller gets the answer unchanged";
    try {
      (void)with_env_key.generate("again");
      FAIL() << "no exception";
    } catch (const st::LMBadRequestError& e) {
      error = e.what();
    }
  }
  EXPECT_EQ(server.requests()[1].header("Authorization"), "Bearer " + from_env);
  EXPECT_NE(error.find("bad key [SECRET] or [SECRET]"), std::string::npos) << error;
  const std::string trace = finished("s-keys").to_json();
  EXPECT_NE(trace.find("[SECRET]"), std::string::npos);
  const auto logged = diagnostics.all();
  ASSERT_FALSE(logged.empty());
  for (const std::string& key : {given, from_env}) {
    EXPECT_EQ(trace.find(key), std::string::npos) << trace;
    EXPECT_EQ(error.find(key), std::string::npos);
    for (const std::string& line : logged) EXPECT_EQ(line.find(key), std::string::npos) << line;
  }
}

// A base URL with credentials in it (userinfo, a key parameter) is never printed as such.
TEST_F(LMTest, CredentialsInTheBaseUrlAreNeverPrinted) {
  int run = 0;
  for (const std::string& base_url : {std::string("http://agent:pa55-Word-77@127.0.0.1:1/v1"),
                                      std::string("http://127.0.0.1:1/v1?api_key=pa55-Word-77")}) {
    const std::string id = "s-url-" + std::to_string(run++);
    st::LM lm({.model = "gpt-4o-mini", .provider = "openai", .base_url = base_url, .api_key = kKey, .max_retries = 0,
               .session_tracer = &tracer});
    std::string error;
    {
      auto session = tracer.start_session(id);
      try {
        (void)lm.generate("hi");
        FAIL() << "no exception";
      } catch (const st::LMConnectionError& e) {
        error = e.what();
      }
    }
    EXPECT_NE(error.find("127.0.0.1:1"), std::string::npos) << error;
    EXPECT_NE(error.find("[API_KEY]"), std::string::npos) << error;
    EXPECT_EQ(error.find("pa55-Word-77"), std::string::npos) << error;
    const std::string trace = finished(id).to_json();
    EXPECT_EQ(trace.find("pa55-Word-77"), std::string::npos) << trace;
    EXPECT_NE(trace.find("127.0.0.1:1"), std::string::npos) << "masking is off in this fixture";
  }
}

TEST_F(LMTest, BaseUrlComesFromTheProvidersVariableWhenNotGiven) {
  st::testing::ScopedEnv base("OPENAI_BASE_URL", server.url("/v1").c_str());
  st::testing::ScopedEnv key("OPENAI_API_KEY", "env-key-654321");
  server.script({Reply{.body = openai_answer("from the variable")}, Reply{.body = openai_answer("given")}});
  st::LM lm({.model = "gpt-4", .max_retries = 0});
  EXPECT_EQ(lm.provider(), "openai");
  EXPECT_EQ(lm.generate("hi").text, "from the variable");
  EXPECT_EQ(server.last().path, "/v1/chat/completions");
  EXPECT_EQ(server.last().header("Authorization"), "Bearer env-key-654321");

  // A base_url given in code wins over the variable.
  st::testing::ScopedEnv elsewhere("OPENAI_BASE_URL", "http://127.0.0.1:9/never");
  st::LM given({.model = "gpt-4", .base_url = server.url("/v1"), .max_retries = 0});
  EXPECT_EQ(given.generate("hi").text, "given");
}

}  // namespace
