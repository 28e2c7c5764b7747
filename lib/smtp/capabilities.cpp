#include "smtp/capabilities.h"

#include "util/ascii.h"

namespace smtpverify::smtp {

using util::ascii_upper;

Capabilities Capabilities::from_ehlo(const Reply& reply) {
  Capabilities caps;
  for (std::size_t i = 1; i < reply.lines.size(); ++i) {
    std::string_view line = reply.lines[i];
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    const auto space = line.find(' ');
    const std::string_view keyword = line.substr(0, space);
    if (keyword.empty()) continue;
    std::string_view params;
    if (space != std::string_view::npos) params = line.substr(space + 1);
    caps.keywords_.insert_or_assign(ascii_upper(keyword), std::string(params));
  }
  return caps;
}

bool Capabilities::has(std::string_view keyword) const {
  return keywords_.find(ascii_upper(keyword)) != keywords_.end();
}

std::string Capabilities::params(std::string_view keyword) const {
  const auto it = keywords_.find(ascii_upper(keyword));
  return it == keywords_.end() ? std::string() : it->second;
}

std::optional<std::string> Capabilities::keyword_starting(std::string_view prefix) const {
  for (const auto& [keyword, params] : keywords_) {
    if (keyword.compare(0, prefix.size(), prefix) != 0) continue;
    return params.empty() ? keyword : keyword + " " + params;
  }
  return std::nullopt;
}

}  // namespace smtpverify::smtp
