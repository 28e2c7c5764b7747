#include "check/regex.h"

#include <array>

namespace smtpverify::check {

std::optional<Regex> Regex::compile(const std::string& pattern, std::string& error) {
  auto re = std::make_unique<regex_t>();
  const int rc = regcomp(re.get(), pattern.c_str(), REG_EXTENDED | REG_NOSUB | REG_NEWLINE);
  if (rc != 0) {
    std::array<char, 256> buf{};
    regerror(rc, re.get(), buf.data(), buf.size());
    error = buf.data();
    return std::nullopt;  // regcomp frees what it allocated on failure
  }
  Regex out;
  out.re_.reset(re.release());
  return out;
}

bool Regex::matches(const std::string& text) const {
  return regexec(re_.get(), text.c_str(), 0, nullptr, 0) == 0;
}

}  // namespace smtpverify::check
