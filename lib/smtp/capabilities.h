// EHLO capabilities (RFC 5321 §4.1.1.1): one keyword per line after the greeting line.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/reply.h"

namespace smtpverify::smtp {

/// The extensions a server announced, keyed by upper-case keyword.
class Capabilities {
 public:
  /// Parses a 250 reply to EHLO/LHLO; the first line is the greeting, not a capability.
  static Capabilities from_ehlo(const Reply& reply);
  /// True if the keyword was announced (case-insensitive, RFC 5321 §2.4).
  [[nodiscard]] bool has(std::string_view keyword) const;
  /// The parameters after the keyword ("" if none or not announced).
  [[nodiscard]] std::string params(std::string_view keyword) const;
  /// The first announced keyword (upper case) that starts with `prefix` (upper case) and its
  /// parameters, space-separated: "AUTH=PLAIN LOGIN" for "AUTH=".
  [[nodiscard]] std::optional<std::string> keyword_starting(std::string_view prefix) const;
  [[nodiscard]] bool empty() const { return keywords_.empty(); }

 private:
  std::map<std::string, std::string, std::less<>> keywords_;
};

}  // namespace smtpverify::smtp
