// Secrets a server may echo back (a failed AUTH quoting our own line): masked in its replies
// before anything stores or shows them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "smtp/reply.h"

namespace smtpverify::smtp {

/// What a secret is shown as, in our commands and in replies.
inline constexpr std::string_view kMask = "********";

/// Masks every occurrence of each secret in a reply's text with "********".
class Scrubber {
 public:
  Scrubber() = default;
  /// `secrets`: the password and every encoded form we send; empty ones are ignored.
  explicit Scrubber(std::vector<std::string> secrets);
  /// The secrets are wiped (util::wipe) when it goes.
  ~Scrubber();
  Scrubber(const Scrubber&) = default;
  Scrubber& operator=(const Scrubber&) = default;
  Scrubber(Scrubber&&) = default;
  Scrubber& operator=(Scrubber&&) = default;

  void operator()(Reply& reply) const;

 private:
  std::vector<std::string> secrets_;  // longest first
};

}  // namespace smtpverify::smtp
