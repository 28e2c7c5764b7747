// -R patterns: POSIX extended regular expressions, as check_smtp uses (regcomp).
#pragma once

#include <regex.h>

#include <memory>
#include <optional>
#include <string>

namespace smtpverify::check {

/// A compiled POSIX extended regex; "^" and "$" match at every line of a multi-line reply.
class Regex {
 public:
  /// Compiles `pattern`; nullopt with `error` set (regerror's words) when it does not.
  static std::optional<Regex> compile(const std::string& pattern, std::string& error);
  /// True when the pattern matches anywhere in `text`.
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
