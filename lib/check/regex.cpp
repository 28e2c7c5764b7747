#include "check/regex.h"

#include <array>
#include <charconv>
#include <vector>

namespace smtpverify::check {

namespace {

// glibc's regcomp copies a repeated expression once per repetition it may need ("a+" is "aa*",
// "a{9}" nine copies), and repetitions of repetitions multiply: "2" followed by 130 "+" or
// "((a{99}){99}){99}" takes gigabytes before regcomp returns. A pattern the check cannot
// afford is refused before regcomp sees it.
constexpr double kMaxCopies = 100000;

// How many copies a repetition operator at `at` asks for, and where it ends; 0 when there is
// none there.
double repetition_at(const std::string& p, std::size_t& at) {
  if (p[at] == '*' || p[at] == '+' || p[at] == '?') return 2;
  if (p[at] != '{') return 0;
  unsigned most = 0;
  std::size_t i = at + 1;
  while (i < p.size() && p[i] != '}') {
    unsigned n = 0;
    const auto [end, ec] = std::from_chars(p.data() + i, p.data() + p.size(), n);
    if (ec == std::errc()) {
      most = std::max(most, n);
      i = static_cast<std::size_t>(end - p.data());
    } else {
      ++i;
    }
  }
  at = i;
  return static_cast<double>(most) + 1;
}

// The copies regcomp would make, at most; a repetition directly after another counts as
// nested. Bracket expressions and escapes are single atoms.
double copies_needed(const std::string& p) {
  std::vector<double> open = {1};  // per open group: the largest weight inside it
  double atom = 1;                 // the weight of the atom a repetition would apply to
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (const double times = repetition_at(p, i); times > 0) {
      atom *= times;
      open.back() = std::max(open.back(), atom);
      continue;
    }
    if (p[i] == '\\') {
      ++i;
      atom = 1;
    } else if (p[i] == '[') {
      i = p.find(']', i + (i + 1 < p.size() && p[i + 1] == ']' ? 2 : 1));
      if (i == std::string::npos) break;
      atom = 1;
    } else if (p[i] == '(') {
      open.push_back(1);
    } else if (p[i] == ')' && open.size() > 1) {
      atom = open.back();
      open.pop_back();
      open.back() = std::max(open.back(), atom);
    } else {
      atom = 1;
    }
  }
  double most = 1;
  for (const double w : open) most = std::max(most, w);
  return most;
}

}  // namespace

tl::expected<Regex, RegexError> Regex::compile(const std::string& pattern) {
  if (copies_needed(pattern) > kMaxCopies) {
    return tl::unexpected(RegexError{"repetitions nested too deep to compile safely"});
  }
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
