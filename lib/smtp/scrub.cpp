#include "smtp/scrub.h"

#include <algorithm>
#include <string_view>

#include "util/wipe.h"

namespace smtpverify::smtp {

namespace {

// Every occurrence of `secret` in `line` becomes kMask.
void mask(std::string& line, std::string_view secret) {
  for (auto at = line.find(secret); at != std::string::npos; at = line.find(secret, at)) {
    line.replace(at, secret.size(), kMask);
    at += kMask.size();
  }
}

}  // namespace

Scrubber::Scrubber(std::vector<std::string> secrets) : secrets_(std::move(secrets)) {
  secrets_.erase(std::remove(secrets_.begin(), secrets_.end(), std::string()), secrets_.end());
  // Longest first: a password inside an encoded form must not break up the encoded form.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

Scrubber::~Scrubber() {
  for (auto& s : secrets_) util::wipe(s);
}

void Scrubber::operator()(Reply& reply) const {
  for (auto& line : reply.lines) {
    for (const auto& secret : secrets_) mask(line, secret);
  }
}

}  // namespace smtpverify::smtp
