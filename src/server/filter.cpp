#include "server/filter.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include "synth/tracing/model.hpp"

namespace synth::tracing::server {

namespace {

enum class Kind : std::uint8_t { number, text, list, boolean, time };

struct Field {
  const char* name;
  const char* sql;
  Kind kind;
};

constexpr Field kFields[] = {
    {"session_id", "s.session_id", Kind::text},
    {"experiment", "s.experiment_id", Kind::text},
    {"model", "s.models", Kind::list},
    {"provider", "s.providers", Kind::list},
    {"system", "s.systems", Kind::list},
    {"reward", "s.reward", Kind::number},
    {"cost", "s.cost", Kind::number},
    {"tokens", "s.total_tokens", Kind::number},
    {"prompt_tokens", "s.prompt_tokens", Kind::number},
    {"completion_tokens", "s.completion_tokens", Kind::number},
    {"cached_tokens", "s.cached_tokens", Kind::number},
    {"events", "s.num_events", Kind::number},
    {"steps", "s.num_timesteps", Kind::number},
    {"messages", "s.num_messages", Kind::number},
    {"llm_calls", "s.num_llm_calls", Kind::number},
    {"errors", "s.errors", Kind::number},
    {"duration_ms", "((epoch_us(s.ended_at) - epoch_us(s.started_at)) / 1000.0)", Kind::number},
    {"terminated", "s.terminated", Kind::boolean},
    {"created_at", "s.created_at", Kind::time},
    {"started_at", "s.started_at", Kind::time},
    {"ended_at", "s.ended_at", Kind::time},
    {"first_message", "s.first_message", Kind::text},
    {"last_message", "s.last_message", Kind::text},
};

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::number:
      return "number";
    case Kind::text:
      return "text";
    case Kind::list:
      return "list of names";
    case Kind::boolean:
      return "true/false";
    case Kind::time:
      return "time";
  }
  return "";
}

enum class Tok : std::uint8_t { word, number, string, op, open, close, comma, end };

struct Token {
  Tok type;
  std::string text;  // a word lower-cased, an operator, a string's value
  std::size_t pos;   // 0-based
  double number = 0;
};

class Compiler {
 public:
  explicit Compiler(std::string_view text) : text_(text) { next(); }

  SqlCondition run() {
    std::string sql = expression();
    if (tok_.type != Tok::end) fail(tok_.pos, "expected 'and', 'or' or the end, found " + describe(tok_));
    return SqlCondition{std::move(sql), std::move(params_)};
  }

 private:
  [[noreturn]] void fail(std::size_t pos, const std::string& problem) const {
    throw FilterError("filter: at character " + std::to_string(pos + 1) + ": " + problem);
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case Tok::end:
        return "the end";
      case Tok::string:
        return "the text \"" + t.text + "\"";
      default:
        return "'" + t.text + "'";
    }
  }

  bool is_word(std::string_view w) const { return tok_.type == Tok::word && tok_.text == w; }

  void next() {
    std::size_t p = pos_;
    while (p < text_.size() && std::isspace(static_cast<unsigned char>(text_[p]))) ++p;
    tok_ = Token{Tok::end, "", p};
    if (p >= text_.size()) {
      pos_ = p;
      return;
    }
    const char c = text_[p];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t e = p;
      while (e < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[e])) || text_[e] == '_')) ++e;
      tok_.type = Tok::word;
      tok_.text = std::string(text_.substr(p, e - p));
      std::transform(tok_.text.begin(), tok_.text.end(), tok_.text.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      pos_ = e;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.') {
      double d = 0;
      const auto r = std::from_chars(text_.data() + p, text_.data() + text_.size(), d);
      if (r.ec != std::errc()) fail(p, "'" + std::string(1, c) + "' does not start a number");
      tok_.type = Tok::number;
      tok_.number = d;
      tok_.text = std::string(text_.substr(p, static_cast<std::size_t>(r.ptr - (text_.data() + p))));
      pos_ = static_cast<std::size_t>(r.ptr - text_.data());
    } else if (c == '"' || c == '\'') {
      std::string value;
      std::size_t e = p + 1;
      for (;; ++e) {
        if (e >= text_.size()) fail(p, std::string("the text starting here is not closed (with ") + c + ")");
        if (text_[e] == '\\' && e + 1 < text_.size()) {
          value += text_[++e];
        } else if (text_[e] == c) {
          break;
        } else {
          value += text_[e];
        }
      }
      tok_.type = Tok::string;
      tok_.text = std::move(value);
      pos_ = e + 1;
    } else if (c == '(' || c == ')' || c == ',') {
      tok_.type = c == '(' ? Tok::open : c == ')' ? Tok::close : Tok::comma;
      tok_.text = std::string(1, c);
      pos_ = p + 1;
    } else {
      for (const char* op : {"==", "!=", "<=", ">=", "<", ">", "="}) {
        if (text_.substr(p).starts_with(op)) {
          tok_.type = Tok::op;
          tok_.text = std::string(op == std::string_view("=") ? std::string_view("==") : std::string_view(op));
          pos_ = p + std::string_view(op).size();
          return;
        }
      }
      fail(p, "unexpected character '" + std::string(1, c) + "'");
    }
  }

  std::string expression() {
    std::string sql = conjunction();
    while (is_word("or")) {
      next();
      sql = "(" + sql + " OR " + conjunction() + ")";
    }
    return sql;
  }

  std::string conjunction() {
    std::string sql = factor();
    while (is_word("and")) {
      next();
      sql = "(" + sql + " AND " + factor() + ")";
    }
    return sql;
  }

  std::string factor() {
    if (is_word("not")) {
      next();
      return "(NOT COALESCE(" + factor() + ", false))";
    }
    if (tok_.type == Tok::open) {
      const std::size_t at = tok_.pos;
      next();
      std::string sql = expression();
      if (tok_.type != Tok::close) fail(tok_.pos, "expected ')' to close the '(' at character " + std::to_string(at + 1) + ", found " + describe(tok_));
      next();
      return sql;
    }
    return comparison();
  }

  const Field& field() {
    if (tok_.type != Tok::word) fail(tok_.pos, "expected a field, found " + describe(tok_) + " (fields: " + filter_fields() + ")");
    for (const Field& f : kFields) {
      if (tok_.text == f.name) return f;
    }
    fail(tok_.pos, "unknown field '" + tok_.text + "' (fields: " + filter_fields() + ")");
  }

  // A literal for `f`, bound as a parameter.
  void value(const Field& f) {
    const Token t = tok_;
    if (t.type == Tok::word && t.text == "null") {
      params_.emplace_back();
    } else if (t.type == Tok::word && (t.text == "true" || t.text == "false")) {
      if (f.kind != Kind::boolean) fail(t.pos, std::string("'") + f.name + "' is a " + kind_name(f.kind) + ", not true/false");
      params_.emplace_back(t.text == "true");
    } else if (t.type == Tok::number) {
      if (f.kind != Kind::number) fail(t.pos, std::string("'") + f.name + "' is a " + kind_name(f.kind) + ", not a number");
      params_.emplace_back(t.number);
    } else if (t.type == Tok::string) {
      if (f.kind == Kind::number || f.kind == Kind::boolean) {
        fail(t.pos, std::string("'") + f.name + "' is a " + kind_name(f.kind) + ": write the value without quotes");
      }
      if (f.kind == Kind::time) {
        const auto time = parse_timestamp(t.text);
        if (!time) fail(t.pos, "\"" + t.text + "\" is not an ISO-8601 time (e.g. \"2025-01-31T12:00:00Z\")");
        params_.emplace_back(format_timestamp(*time));
      } else {
        params_.emplace_back(t.text);
      }
    } else {
      fail(t.pos, std::string("expected a value for '") + f.name + "', found " + describe(t));
    }
    next();
  }

  std::string placeholder(const Field& f) const { return f.kind == Kind::time ? "CAST(? AS TIMESTAMP)" : "?"; }

  std::string comparison() {
    const Field& f = field();
    const std::size_t field_pos = tok_.pos;
    next();
    const std::string col = f.sql;
    if (is_word("contains")) {
      next();
      if (tok_.type != Tok::string) fail(tok_.pos, "'contains' takes a text in quotes, found " + describe(tok_));
      if (f.kind != Kind::text && f.kind != Kind::list) {
        fail(field_pos, std::string("'") + f.name + "' is a " + kind_name(f.kind) + ": 'contains' is for text and lists");
      }
      value(f);
      return f.kind == Kind::list ? "(len(list_filter(" + col + ", m -> contains(m, ?))) > 0)" : "contains(" + col + ", ?)";
    }
    if (is_word("in")) {
      next();
      if (tok_.type != Tok::open) fail(tok_.pos, "'in' takes a list in parentheses: in (\"a\", \"b\")");
      std::string list;
      do {
        next();
        value(f);
        list += (list.empty() ? "" : ", ") + placeholder(f);
      } while (tok_.type == Tok::comma);
      if (tok_.type != Tok::close) fail(tok_.pos, "expected ',' or ')' in the list, found " + describe(tok_));
      next();
      return f.kind == Kind::list ? "list_has_any(" + col + ", [" + list + "])" : "(" + col + " IN (" + list + "))";
    }
    if (tok_.type != Tok::op) {
      if (f.kind == Kind::boolean) return "COALESCE(" + col + ", false)";
      fail(tok_.pos, std::string("expected an operator (== != < <= > >= contains in) after '") + f.name + "', found " +
                         describe(tok_));
    }
    const std::string op = tok_.text;
    const std::size_t op_pos = tok_.pos;
    next();
    if (f.kind == Kind::list) {
      if (op != "==" && op != "!=") fail(op_pos, std::string("'") + f.name + "' is a list of names: compare it with ==, != or contains");
      value(f);
      return std::string(op == "==" ? "" : "NOT ") + "list_contains(" + col + ", ?)";
    }
    if (f.kind == Kind::boolean && op != "==" && op != "!=") {
      fail(op_pos, std::string("'") + f.name + "' is true/false: compare it with == or !=");
    }
    const bool null_value = is_word("null");
    if (null_value && op != "==" && op != "!=") fail(tok_.pos, "null compares only with == or !=");
    value(f);
    // A flag without a value is false, as the flag alone reads it, unless null is asked for.
    const std::string compared = f.kind == Kind::boolean && !null_value ? "COALESCE(" + col + ", false)" : col;
    if (op == "==") return "(" + compared + " IS NOT DISTINCT FROM " + placeholder(f) + ")";
    if (op == "!=") return "(" + compared + " IS DISTINCT FROM " + placeholder(f) + ")";
    return "(" + col + " " + op + " " + placeholder(f) + ")";
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  Token tok_{Tok::end, "", 0};
  std::vector<Value> params_;
};

}  // namespace

std::string filter_fields() {
  std::string out;
  for (const Field& f : kFields) out += (out.empty() ? "" : ", ") + std::string(f.name) + " (" + kind_name(f.kind) + ")";
  return out;
}

SqlCondition compile_filter(std::string_view expression) { return Compiler(expression).run(); }

}  // namespace synth::tracing::server
