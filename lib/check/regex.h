// -R patterns: POSIX extended regular expressions, as check_smtp uses (regcomp).
#pragma once

#include <regex.h>

#include <memory>
#include <string>
#include <tl/expected.hpp>

namespace smtpverify::check {

/// Why a pattern does not compile: regerror's words.
struct RegexError {
  std::string what;
};

/// A compiled POSIX extended regex; "^" and "$" match at every line of a multi-line reply.
class Regex {
 public:
  /// Compiles `pattern`, or says why it does not compile.
  static tl::expected<Regex, RegexError> compile(const std::string& pattern);
  /// True when the pattern matches anywhere in `text`. The whole text is matched (REG_STARTEND):
  /// a NUL byte in a reply is an ordinary byte, not its end.
  [[nodiscard]] bool matches(const std::string& text) const;

 private:
  struct Free {
    void operator()(regex_t* re) const {
      regfree(re);
      delete re;
    }
  };
  std::unique_ptr<regex_t, Free> re_;
};

}  // namespace smtpverify::check
