#include "check/mta_sts.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "util/ascii.h"

namespace smtpverify::check::mta_sts {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

bool alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// The `;`-separated fields of a TXT record after its version (RFC 8461 §3.1, RFC 8460 §3),
// each trimmed; an empty last field (a trailing `;`) is dropped.
std::vector<std::string_view> fields(std::string_view record) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto semi = record.find(';');
    out.push_back(trim(record.substr(0, semi)));
    if (semi == std::string_view::npos) break;
    record.remove_prefix(semi + 1);
  }
  if (out.size() > 1 && out.back().empty()) out.pop_back();
  return out;
}

// Whether a record starts with `version` as its first field ("v=STSv1", "v=STSv1;…").
bool starts_with_version(std::string_view record, std::string_view version) {
  if (record.substr(0, version.size()) != version) return false;
  const std::string_view rest = record.substr(version.size());
  return rest.empty() || rest.front() == ';' || is_wsp(rest.front());
}

// The records of a name that carry `version`, or why there is not exactly one.
tl::expected<std::string_view, std::string> one_record(const std::vector<std::string>& records,
                                                       std::string_view version,
                                                       const std::string& none) {
  std::vector<std::string_view> found;
  for (const auto& r : records) {
    if (starts_with_version(r, version)) found.emplace_back(r);
  }
  if (found.empty()) return tl::unexpected(none);
  if (found.size() > 1) {
    return tl::unexpected(std::to_string(found.size()) + " " + std::string(version) +
                          " records, exactly one allowed");
  }
  return found.front();
}

// The value of the field `name` in a record's `;`-separated name=value fields after its
// version (other names are extensions, ignored), if it is there; `what` names the record in
// the error ("MTA-STS record").
tl::expected<std::optional<std::string_view>, std::string> field_value(std::string_view record,
                                                                       std::string_view name,
                                                                       const std::string& what) {
  const auto list = fields(record);
  std::optional<std::string_view> value;
  for (std::size_t i = 1; i < list.size(); ++i) {
    const auto f = list[i];
    const auto eq = f.find('=');
    if (eq == 0 || eq == std::string_view::npos) {
      return tl::unexpected("malformed " + what + ": field " + std::to_string(i + 1) +
                            " is not name=value");
    }
    if (trim(f.substr(0, eq)) != name) continue;
    if (value)
      return tl::unexpected("malformed " + what + ": " + std::string(name) + " given twice");
    value = f.substr(eq + 1);
  }
  return value;
}

// A DNS name as a policy writes one: letter-digit-hyphen labels of 1..63, 253 in all.
bool domain_syntax(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (label == 0 || label > 63 || name[i - 1] == '-' || name[i - label] == '-') return false;
      label = 0;
    } else if (alnum(name[i]) || name[i] == '-') {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::Enforce:
      return "enforce";
    case Mode::Testing:
      return "testing";
    case Mode::None:
      return "none";
  }
  return "none";
}

tl::expected<StsRecord, std::string> sts_record(const std::vector<std::string>& records) {
  auto record = one_record(records, "v=STSv1", "no MTA-STS policy");
  if (!record) return tl::unexpected(record.error());
  // sts-text-record = sts-version 1*(*WSP %x3B *WSP sts-field) [%x3B]
  const auto id = field_value(*record, "id", "MTA-STS record");
  if (!id) return tl::unexpected(id.error());
  if (!*id) return tl::unexpected(std::string("malformed MTA-STS record: no id"));
  const std::string_view v = **id;
  if (v.empty() || v.size() > 32 || !std::all_of(v.begin(), v.end(), alnum)) {
    return tl::unexpected(
        std::string("malformed MTA-STS record: id is not 1-32 letters and digits"));
  }
  return StsRecord{std::string(v)};
}

tl::expected<Policy, std::string> parse_policy(std::string_view body) {
  Policy out;
  bool version = false, mode = false, max_age = false;
  std::size_t number = 0;
  while (!body.empty()) {
    ++number;
    const auto lf = body.find('\n');
    std::string_view line = body.substr(0, lf);
    body.remove_prefix(lf == std::string_view::npos ? body.size() : lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto bad = [number](const std::string& what) {
      return tl::unexpected("malformed MTA-STS policy: line " + std::to_string(number) + " " +
                            what);
    };
    if (trim(line).empty()) continue;  // *WSP between fields, a last empty line
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return bad("is not key: value");
    const std::string_view key = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (key == "version") {
      if (version) return bad("repeats version");
      if (value != "STSv1") return bad("has a version other than STSv1");
      version = true;
    } else if (key == "mode") {
      if (mode) return bad("repeats mode");
      if (value == "enforce") {
        out.mode = Mode::Enforce;
      } else if (value == "testing") {
        out.mode = Mode::Testing;
      } else if (value == "none") {
        out.mode = Mode::None;
      } else {
        return bad("has a mode other than enforce, testing or none");
      }
      mode = true;
    } else if (key == "max_age") {
      if (max_age) return bad("repeats max_age");
      if (value.empty() || value.size() > 10 ||
          !std::all_of(value.begin(), value.end(),
                       [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
        return bad("has a max_age that is not 1-10 digits");
      }
      out.max_age = std::stoll(std::string(value));
      if (out.max_age > kMaxAge) {
        return bad("has a max_age over " + std::to_string(kMaxAge) + " s");
      }
      max_age = true;
    } else if (key == "mx") {
      const std::string_view domain = value.substr(0, 2) == "*." ? value.substr(2) : value;
      if (!domain_syntax(domain)) return bad("has an mx that is not a host name pattern");
      out.mx.emplace_back(value);
    }
    // RFC 8461 §3.2: other keys are extensions, ignored.
  }
  if (!version) return tl::unexpected(std::string("malformed MTA-STS policy: no version"));
  if (!mode) return tl::unexpected(std::string("malformed MTA-STS policy: no mode"));
  if (!max_age) return tl::unexpected(std::string("malformed MTA-STS policy: no max_age"));
  if (out.mx.empty() && out.mode != Mode::None) {
    return tl::unexpected(std::string("malformed MTA-STS policy: no mx"));
  }
  return out;
}

bool mx_matches(std::string_view pattern, std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (!pattern.empty() && pattern.back() == '.') pattern.remove_suffix(1);
  if (host.empty() || pattern.empty()) return false;
  if (pattern.substr(0, 2) == "*.") {
    // The wildcard stands for exactly one label: "*.example.com" matches "mx.example.com",
    // neither "example.com" nor "a.b.example.com".
    const auto dot = host.find('.');
    if (dot == 0 || dot == std::string_view::npos) return false;
    return util::equal_ignoring_ascii_case(host.substr(dot + 1), pattern.substr(2));
  }
  return util::equal_ignoring_ascii_case(host, pattern);
}

tl::expected<TlsRptRecord, std::string> tls_rpt_record(const std::vector<std::string>& records) {
  auto record = one_record(records, "v=TLSRPTv1", "no TLS-RPT record");
  if (!record) return tl::unexpected(record.error());
  // tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
  const auto rua = field_value(*record, "rua", "TLS-RPT record");
  if (!rua) return tl::unexpected(rua.error());
  if (!*rua) return tl::unexpected(std::string("malformed TLS-RPT record: no rua"));
  TlsRptRecord out;
  std::string_view uris = **rua;
  for (;;) {
    const auto comma = uris.find(',');
    const std::string_view uri = trim(uris.substr(0, comma));
    const bool mailto =
        uri.size() > 7 && util::equal_ignoring_ascii_case(uri.substr(0, 7), "mailto:");
    const bool https =
        uri.size() > 8 && util::equal_ignoring_ascii_case(uri.substr(0, 8), "https://");
    if (!mailto && !https) {
      return tl::unexpected(
          std::string("malformed TLS-RPT record: rua holds a URI that is not mailto: or https:"));
    }
    out.rua.emplace_back(uri);
    if (comma == std::string_view::npos) break;
    uris.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace smtpverify::check::mta_sts
