// Internal: the built-in "api_key" detector. It finds API keys with a known prefix (the formats
// of every provider the LM client speaks to, and common developer services), JWTs, bearer tokens,
// and credentials inside URLs (`scheme://user:password@host`, `?key=...`). Keys without a
// recognisable shape are the job of registered secrets (register_secret()).
#pragma once

#include <cstddef>

#include "pii/pii_text.hpp"

namespace synth::tracing::pii_detail {

/// The detector's RE2 pattern (run on windows, then checked by validate_key()).
extern const char* const kApiKeyRegex;

/// A window [start, end) of the text to search with kApiKeyRegex; empty when there is none.
struct KeyWindow {
  std::size_t start = 0;
  std::size_t end = 0;
  bool empty() const { return end <= start; }
};

/// Where the windows found so far end, per kind: a marker inside a window of its own kind is
/// covered already, and skipping it keeps the scan linear ("sk-sk-sk-...", "?k=?k=?k=...").
struct KeyFloors {
  std::size_t key = 0;
  std::size_t query = 0;
};

/// The window around the trigger byte at `i` (one of - _ A J b B = @): a key prefix ending or
/// starting there, "Bearer", a `?name=` query parameter, or the '@' ending a URL's userinfo.
KeyWindow key_window(Text t, std::size_t i, KeyFloors& floors);

/// What to mask of a match [s, e) of kApiKeyRegex: [start, end) (empty: rejected), and where
/// the search resumes (> s). Keeps "Bearer", the URL's scheme and host and the parameter's name
/// readable; rejects a bearer "token" that is a word and a prefixed name made of lower-case words
/// ("sk-learn-style-names").
struct KeyVerdict {
  std::size_t start;
  std::size_t end;
  std::size_t next;
};
KeyVerdict validate_key(Text t, std::size_t s, std::size_t e);

}  // namespace synth::tracing::pii_detail
