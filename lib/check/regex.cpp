#include "check/regex.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "util/sanitizers.h"

namespace smtpverify::check {

namespace {

// glibc's regcomp copies a repeated expression once per repetition it may need ("a+" is "aa*",
// "a{9}" nine copies), and repetitions of repetitions multiply: "((a{99}){99}){99}" takes
// gigabytes before regcomp returns. What can match the empty string costs far more: its empty
// paths are closed over pairwise, so "2*" and eleven "+" take over a second and one more "+"
// seven, ".{0,8000}" most of one, and "x+++", 85 "?" and "+++" (about 800 nodes, each "?" one
// more, each "+" twice as many) more than twenty (found by the options fuzzer). Measured: up
// to about 250 such nodes compile in milliseconds, 400 in a tenth of a second. A pattern the
// check cannot afford is refused before regcomp sees it.
constexpr double kMaxNodes = 100000;
constexpr double kMaxEmptyNodes = 256;
// The closures also run across atoms: "=", 43 "?", then "E", 26 "?" and "+++" took four
// seconds, although no one atom is large. Beyond this many repetition operators a pattern is
// refused too (with 32, the slowest found compiles in a fifth of a second); a -R pattern
// needs a handful.
constexpr int kMaxOperators = 32;

struct Cost {
  double copies = 1;        // the nodes regcomp makes, at most
  double empty_copies = 0;  // of those, nodes that can match the empty string
  int operators = 0;        // repetition operators: * ? + {}
};

// What a repetition operator at `at` does, and where it ends: an atom of n nodes becomes
// copies * n + added nodes, optional or not. Not a repetition: copies == 0.
struct Repetition {
  double copies = 0;
  bool optional = false;
  double added = 0;
};

Repetition repetition_at(const std::string& p, std::size_t& at) {
  if (p[at] == '*' || p[at] == '?') return {1, true, 1};
  if (p[at] == '+') return {2, false, 1};
  if (p[at] != '{') return {};
  unsigned least = 0;
  unsigned most = 0;
  bool first = true;
  std::size_t i = at + 1;
  while (i < p.size() && p[i] != '}') {
    unsigned n = 0;
    const auto [end, ec] = std::from_chars(p.data() + i, p.data() + p.size(), n);
    if (ec == std::errc()) {
      if (first) least = n;
      most = std::max(most, n);
      i = static_cast<std::size_t>(end - p.data());
    } else {
      ++i;
    }
    first = false;
  }
  at = i;
  return {static_cast<double>(most) + 1, least == 0};
}

// The most a pattern can cost regcomp. Each open group keeps the largest atom inside it and
// whether one of its alternatives can match empty; a repetition directly after another counts
// as nested. Bracket expressions and escapes are single atoms; anchors match empty.
Cost cost_of(const std::string& p) {
  struct Group {
    double copies = 1;       // the largest atom inside
    bool empty = false;      // an earlier alternative can match empty
    bool rest_empty = true;  // every atom of this alternative before the current one can
    double atom = 1;         // the copies of the atom a repetition would apply to
    bool atom_empty = true;  // whether that atom can match empty
    [[nodiscard]] bool alternative_empty() const { return rest_empty && atom_empty; }
  };
  std::vector<Group> open(1);
  Cost cost;
  const auto note = [&](Group& g) {
    g.copies = std::max(g.copies, g.atom);
    cost.copies = std::max(cost.copies, g.atom);
    if (g.atom_empty) cost.empty_copies = std::max(cost.empty_copies, g.atom);
  };
  const auto add_atom = [&](double copies, bool empty) {
    Group& g = open.back();
    g.rest_empty = g.alternative_empty();
    g.atom = copies;
    g.atom_empty = empty;
    note(g);
  };
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (const Repetition r = repetition_at(p, i); r.copies > 0) {
      ++cost.operators;
      Group& g = open.back();
      g.atom = g.atom * r.copies + r.added;
      g.atom_empty = g.atom_empty || r.optional;
      note(g);
      continue;
    }
    if (p[i] == '\\') {
      ++i;
      add_atom(1, false);
    } else if (p[i] == '[') {
      i = p.find(']', i + (i + 1 < p.size() && p[i + 1] == ']' ? 2 : 1));
      if (i == std::string::npos) break;
      add_atom(1, false);
    } else if (p[i] == '(') {
      open.emplace_back();
    } else if (p[i] == '|') {
      Group& g = open.back();
      g.empty = g.empty || g.alternative_empty();
      g.rest_empty = true;
      g.atom = 1;
      g.atom_empty = true;
    } else if (p[i] == ')' && open.size() > 1) {
      const Group inner = open.back();
      open.pop_back();
      add_atom(inner.copies, inner.empty || inner.alternative_empty());
    } else {
      add_atom(1, p[i] == '^' || p[i] == '$');
    }
  }
  return cost;
}

constexpr int kFlags = REG_EXTENDED | REG_NOSUB | REG_NEWLINE;

// The guard above is a model, and glibc keeps finding ways past models: "^^^^2^^^^U??????+++"
// (nine operators, no large atom) takes eight seconds. So a pattern that passed it is compiled
// once in a child first, under a time limit (and, outside the sanitizers, a memory limit); only
// when the child finished in time does regcomp run here. One fork per -R pattern, before the
// check starts.
constexpr auto kProbeTime = std::chrono::milliseconds(1000);
// ASan reserves terabytes of shadow address space: no memory limit under it.
constexpr bool kLimitMemory = !util::kAddressSanitizer;

// Whether regcomp finishes within kProbeTime (whatever its verdict on the syntax).
bool compiles_in_time(const std::string& pattern) {
  const pid_t child = ::fork();
  if (child < 0) return false;  // cannot tell: refused, never a hang
  if (child == 0) {
    const rlimit cpu{2, 2};  // a backstop: SIGXCPU if the parent's kill is late
    ::setrlimit(RLIMIT_CPU, &cpu);
    if (kLimitMemory) {
      const rlimit memory{1UL << 30, 1UL << 30};
      ::setrlimit(RLIMIT_AS, &memory);
    }
    regex_t re;
    const int rc = ::regcomp(&re, pattern.c_str(), kFlags);
    ::_exit(rc == 0 ? 0 : 1);
  }
  const auto until = std::chrono::steady_clock::now() + kProbeTime;
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child) return WIFEXITED(status);
    if (done < 0 || std::chrono::steady_clock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, &status, 0);
  return false;
}

}  // namespace

tl::expected<Regex, RegexError> Regex::compile(const std::string& pattern) {
  const Cost cost = cost_of(pattern);
  if (cost.operators > kMaxOperators) {
    return tl::unexpected(
        RegexError{"more than " + std::to_string(kMaxOperators) + " repetition operators"});
  }
  if (cost.copies > kMaxNodes || cost.empty_copies > kMaxEmptyNodes) {
    return tl::unexpected(RegexError{"repetitions nested too deep to compile safely"});
  }
  if (!compiles_in_time(pattern)) {
    return tl::unexpected(RegexError{"too costly to compile (over 1 s)"});
  }
  auto re = std::make_unique<regex_t>();
  const int rc = regcomp(re.get(), pattern.c_str(), kFlags);
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
