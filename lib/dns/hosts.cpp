#include "dns/hosts.h"

#include <algorithm>
#include <vector>

#include "util/ascii.h"

namespace smtpverify::dns {

std::optional<std::string> hosts_canonical_name(std::string_view hosts_text,
                                                std::string_view name) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!hosts_text.empty()) {
    const auto nl = hosts_text.find('\n');
    std::string_view line = hosts_text.substr(0, nl);
    hosts_text = nl == std::string_view::npos ? std::string_view{} : hosts_text.substr(nl + 1);
    line = line.substr(0, line.find('#'));
    std::vector<std::string_view> fields;
    while (!line.empty()) {
      const auto start = std::find_if_not(line.begin(), line.end(), is_space);
      const auto end = std::find_if(start, line.end(), is_space);
      if (start != end) fields.emplace_back(&*start, static_cast<std::size_t>(end - start));
      line.remove_prefix(static_cast<std::size_t>(end - line.begin()));
    }
    // fields[0] is the address, fields[1] the canonical name, the rest aliases.
    for (std::size_t i = 1; i < fields.size(); ++i) {
      if (util::equal_ignoring_ascii_case(fields[i], name)) return std::string(fields[1]);
    }
  }
  return std::nullopt;
}

}  // namespace smtpverify::dns
