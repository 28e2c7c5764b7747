// One option value at a time: the checks the sections of build_config (options.cpp) share.
// Every failure is one line that names the option; the value is quoted only where it cannot
// be a secret (never -P, never a word the parser does not know).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "check/config.h"

namespace smtpverify::check {

/// What is wrong with the command line: one line, not yet sanitised.
struct OptionError {
  std::string what;
};

/// A check of the command line: the value, or what is wrong.
template <typename T = void>
using Checked = tl::expected<T, OptionError>;

/// The failure of a check.
inline tl::unexpected<OptionError> bad(std::string what) {
  return tl::unexpected(OptionError{std::move(what)});
}

/// The command line after Boost.Program_options (options.cpp): each option given, by its long
/// name, with its values; a switch has none and is absent unless given.
class GivenOptions {
 public:
  void add(std::string name, std::vector<std::string> values) {
    values_[std::move(name)] = std::move(values);
  }
  [[nodiscard]] bool given(std::string_view name) const { return values_.count(name) != 0; }
  /// A switch (or any option) given.
  [[nodiscard]] bool flag(std::string_view name) const { return given(name); }
  /// The value of an option given once.
  [[nodiscard]] std::optional<std::string> get(std::string_view name) const {
    const auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) return std::nullopt;
    return it->second.front();
  }
  /// Every value of a repeatable option.
  [[nodiscard]] std::vector<std::string> get_all(std::string_view name) const {
    const auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
};

/// Validates the options given into a Config: the first problem, as one line, if any.
Checked<Config> build_config(const GivenOptions& options);

/// A byte that could end or split an SMTP command line (or hide in one): C0 or DEL.
bool has_control(std::string_view s);

/// A mailbox as given to --from/--rcpt/--reject-rcpt, without its optional angle brackets:
/// no spaces or control bytes, a local part of at most 64 octets and a path (with "<>") of
/// at most 256 (RFC 5321 4.5.3.1.1, 4.5.3.1.3). Empty only when `allow_null`.
Checked<std::string> check_address(const std::string& option, std::string value, bool allow_null);

/// A DNS name as -H, -F, --mx, --verify-name and --sni give it: labels of at most 63 octets
/// and at most 253 octets in all, a trailing dot aside (RFC 1035 2.3.4).
Checked<> check_dns_name(const std::string& option, std::string_view name);

/// -F: at most 255 octets (RFC 5321 4.5.3.1.2); a name (not an address literal) is also a
/// DNS name.
Checked<> check_helo_name(std::string_view name);

/// -C: not empty, no control bytes, at most 510 octets, 512 with CRLF (RFC 5321 4.5.3.1.4).
Checked<> check_command(const std::string& command);

/// -p: 1 to 65535.
Checked<std::uint16_t> parse_port(const std::string& text);

/// -t SECONDS[:STATE] into config.timeout and config.timeout_state.
Checked<> parse_timeout(const std::string& text, Config& config);

/// -w/-c [PHASE=]RANGE, each phase at most once.
/// Whether -w/-c may name `label`: time, cert_days, a phase, or one of these (not time) after
/// the prefix --mx-all and --each-address print ("mx1.example.org_banner").
bool threshold_label(std::string_view label);

Checked<> parse_thresholds(const std::string& option, const std::vector<std::string>& values,
                           std::map<std::string, Range, std::less<>>& out);

/// A file an option names, read before anything is sent. Only a regular file: a FIFO or a
/// device could block the read before the -t deadline even starts ("OPTION 'PATH' is not a
/// regular file"). More than `limit` bytes: "OPTION 'PATH' <too_big>". With `first_line`
/// only the first line is returned (without its line end) and `limit` bounds that line.
Checked<std::string> read_regular_file(const std::string& option, const std::string& path,
                                       std::size_t limit, const std::string& too_big,
                                       bool first_line);

/// --ca-file must be a readable regular file, --ca-path (`folder`) a readable folder: OpenSSL
/// opens them later without a time limit.
Checked<> require_readable(const std::string& option, const std::string& path, bool folder);

}  // namespace smtpverify::check
