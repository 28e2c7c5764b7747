#include "check/regex.h"

#include <array>

namespace smtpverify::check {

tl::expected<Regex, RegexError> Regex::compile(const std::string& pattern) {
  auto re = std::make_unique<regex_t>();
  const int rc = regcomp(re.get(), pattern.c_str(), REG_EXTENDED | REG_NOSUB | REG_NEWLINE);
  if (rc != 0) {
    std::array<char, 256> buf{};
    regerror(rc, re.get(), buf.data(), buf.size());
    return tl::unexpected(RegexError{buf.data()});  // regcomp frees what it allocated on failure
  }
  Regex out;
  out.re_.reset(re.release());
  return out;
}

bool Regex::matches(const std::string& text) const {
  // REG_STARTEND (glibc, the BSDs): the text is [rm_so, rm_eo), not a C string, so
  // "250 OK\0 5.0.0 broken" does not match '^250 OK$'. Read even with REG_NOSUB.
  regmatch_t range{};
  range.rm_so = 0;
  range.rm_eo = static_cast<regoff_t>(text.size());
  return regexec(re_.get(), text.data(), 1, &range, REG_STARTEND) == 0;
}

}  // namespace smtpverify::check
