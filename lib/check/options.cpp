#include "check/options.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <iterator>

#include "check/option_values.h"

namespace smtpverify::check {

namespace po = boost::program_options;

namespace {

// The options, as Boost.Program_options spells them. Every value is taken as a string and
// validated here, for exact one-line messages.
enum class Kind { Switch, Value, Values, ValueOrV1 };
struct OptionSpec {
  const char* names;  ///< "long,s" or "long"
  Kind kind;
};
// clang-format off
constexpr OptionSpec kOptions[] = {
    {"hostname,H", Kind::Value},
    {"port,p", Kind::Value},
    {"ipv4,4", Kind::Switch},
    {"ipv6,6", Kind::Switch},
    {"use-ipv4", Kind::Switch},  // check_smtp's long names
    {"use-ipv6", Kind::Switch},
    {"expect,e", Kind::Value},
    {"fqdn,F", Kind::Value},
    {"from,f", Kind::Value},
    {"rcpt", Kind::Values},
    {"reject-rcpt", Kind::Values},
    {"data", Kind::Switch},
    {"data-file", Kind::Value},
    {"command,C", Kind::Values},
    {"response,R", Kind::Values},
    {"lmtp,L", Kind::Switch},
    {"no-pipelining", Kind::Switch},
    {"warning,w", Kind::Values},
    {"critical,c", Kind::Values},
    {"timeout,t", Kind::Value},
    {"ignore-quit-failure,q", Kind::Switch},
    {"dns-server", Kind::Values},
    {"proxy,r", Kind::ValueOrV1},
    {"bind,b", Kind::Value},
    {"starttls,S", Kind::Switch},
    {"plaintext-refused", Kind::Switch},
    {"ssl,s", Kind::Switch},
    {"tls", Kind::Switch},
    {"sni", Kind::Value},
    {"no-verify", Kind::Switch},
    {"ca-file", Kind::Value},
    {"ca-path", Kind::Value},
    {"verify-name", Kind::Value},
    {"certificate,D", Kind::Value},
    {"tls-min", Kind::Value},
    {"authtype,A", Kind::Value},
    {"authuser,U", Kind::Value},
    {"authpass,P", Kind::Value},
    {"authpass-file", Kind::Value},
    {"auth-plaintext", Kind::Switch},
    {"output", Kind::Value},
    {"helo-dns", Kind::Value},
    {"mx", Kind::Value},
    {"mx-all", Kind::Switch},
    {"each-address", Kind::Switch},
    {"mta-sts", Kind::Switch},
    {"tls-rpt", Kind::Switch},
    {"dane", Kind::Switch},
    {"dane-insecure", Kind::Switch},
    {"verbose,v", Kind::Switch},
    {"help,h", Kind::Switch},
    {"version,V", Kind::Switch},
};
// clang-format on

// Only the options the command line can name are described to Boost: building all of them,
// matching every token against every one and storing the defaults of every switch cost about half
// of a plain check with the static runtime (tests/bench/README.md). A token names an option by its
// long name (--name or --name=value; no guessing of abbreviations) or by any of its letters (-x,
// -xVALUE, -46): taking every letter of a short token keeps the set a superset of what Boost will
// look up, so parsing sees exactly what the full table would.
bool named_by(const OptionSpec& o, const std::vector<std::string_view>& tokens) {
  const std::string_view names = o.names;
  const auto comma = names.find(',');
  const std::string_view long_name = names.substr(0, comma);
  const char letter = comma == std::string_view::npos ? '\0' : names[comma + 1];
  for (const std::string_view t : tokens) {
    if (t.substr(0, 2) == "--") {
      const std::string_view name = t.substr(2);  // --name or --name=value
      if (name.substr(0, name.find('=')) == long_name) return true;
    } else if (letter != '\0' && t.find(letter, 1) != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

po::options_description describe_options(int argc, const char* const* argv) {
  std::vector<std::string_view> tokens;
  for (int i = 1; i < argc; ++i) {
    const std::string_view t = argv[i];
    if (t == "--") break;  // the rest is positional
    if (t.size() > 1 && t[0] == '-') tokens.push_back(t);
  }
  po::options_description d;
  auto add = d.add_options();
  for (const auto& o : kOptions) {
    if (!named_by(o, tokens)) continue;
    switch (o.kind) {
      case Kind::Switch:
        add(o.names, po::bool_switch());
        break;
      case Kind::Value:
        add(o.names, po::value<std::string>());
        break;
      case Kind::Values:
        add(o.names, po::value<std::vector<std::string>>());
        break;
      case Kind::ValueOrV1:
        add(o.names, po::value<std::string>()->implicit_value("v1"));
        break;
    }
  }
  add("stray", po::value<std::vector<std::string>>());  // positional arguments: refused
  return d;
}

// The variables_map as build_config reads it: a switch only when given, every value a string.
GivenOptions given_options(const po::variables_map& vm) {
  GivenOptions given;
  for (const auto& [name, value] : vm) {
    const auto& any = value.value();
    if (const auto* on = boost::any_cast<bool>(&any)) {
      if (*on) given.add(name, {});
    } else if (const auto* text = boost::any_cast<std::string>(&any)) {
      given.add(name, {*text});
    } else {
      given.add(name, boost::any_cast<std::vector<std::string>>(any));
    }
  }
  return given;
}

// The option a letter names, if any.
const OptionSpec* by_letter(char letter) {
  for (const auto& o : kOptions) {
    const std::string_view names = o.names;
    const auto comma = names.find(',');
    if (comma != std::string_view::npos && names[comma + 1] == letter) return &o;
  }
  return nullptr;
}

// What an error line may say of a token Boost did not know: its name, never its value, which
// may be a password. Boost names the whole token: "--authpas=hunter2secret" is "--authpas";
// in a group of letters ("-4Zsecret") the unknown one is the first letter that names no
// option before a letter that takes a value (the rest would be that value): "-Z".
std::string option_name_only(const std::string& token) {
  if (token.rfind("--", 0) == 0) return token.substr(0, token.find('='));
  if (token.size() < 2 || token[0] != '-') return token;
  for (std::size_t i = 1; i < token.size(); ++i) {
    const OptionSpec* known = by_letter(token[i]);
    if (known == nullptr) return std::string("-") + token[i];
    if (known->kind != Kind::Switch) break;
  }
  return token.substr(0, 2);
}

}  // namespace

std::string_view auth_mechanism_name(AuthMechanism mechanism) {
  switch (mechanism) {
    case AuthMechanism::Plain:
      return "PLAIN";
    case AuthMechanism::Login:
      return "LOGIN";
  }
  return "PLAIN";
}

std::string_view state_name(State state) {
  switch (state) {
    case State::Ok:
      return "OK";
    case State::Warning:
      return "WARNING";
    case State::Critical:
      return "CRITICAL";
    case State::Unknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

int severity(State state) {
  switch (state) {
    case State::Ok:
      return 0;
    case State::Warning:
      return 1;
    case State::Unknown:
      return 2;
    case State::Critical:
      return 3;
  }
  return 2;
}

namespace {

// Boost.Program_options' part: argv → GivenOptions, -v counted. Boost reports what it does
// not accept by exceptions; parse_options catches them.
GivenOptions parse_argv(int argc, const char* const* argv, int& verbosity) {
  const auto desc = describe_options(argc, argv);
  po::positional_options_description positional;
  positional.add("stray", -1);
  // No guessing of abbreviated long options: a typo must not select another option.
  const int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
  po::parsed_options parsed =
      po::command_line_parser(argc, argv).options(desc).positional(positional).style(style).run();
  // -v is repeatable: count it here, the variables_map only knows "given or not".
  auto& opts = parsed.options;
  verbosity = static_cast<int>(std::count_if(
      opts.begin(), opts.end(), [](const po::option& o) { return o.string_key == "verbose"; }));
  opts.erase(std::remove_if(opts.begin(), opts.end(),
                            [](const po::option& o) { return o.string_key == "verbose"; }),
             opts.end());
  po::variables_map vm;
  po::store(parsed, vm);
  po::notify(vm);
  return given_options(vm);
}

ParsedOptions with(ParsedOptions::Action action, std::string text) {
  ParsedOptions out;
  out.action = action;
  out.text = std::move(text);
  return out;
}

}  // namespace

ParsedOptions parse_options(int argc, const char* const* argv) {
  using Action = ParsedOptions::Action;
  GivenOptions vm;
  int verbosity = 0;
  try {
    vm = parse_argv(argc, argv, verbosity);
  } catch (const po::unknown_option& e) {
    return with(Action::Error, "unknown option '" + option_name_only(e.get_option_name()) + "'");
  } catch (const po::error& e) {
    return with(Action::Error, e.what());
  }
  if (vm.flag("help")) return with(Action::Help, help_text());
  if (vm.flag("version")) return with(Action::Version, version_text());
  // A word that belongs to no option is not echoed: it may be a password with a space in it
  // (-P hunter2 secret) or the value of a mistyped option.
  if (vm.given("stray")) {
    return with(Action::Error, "unexpected argument (a word that belongs to no option; not shown)");
  }
  auto config = build_config(vm);
  if (!config) return with(Action::Error, config.error().what);
  // An exposition has no room for a transcript (OpenMetrics allows no comments): refused
  // rather than dropped without a word.
  if (verbosity > 0 && config->output == OutputFormat::OpenMetrics) {
    return with(Action::Error, "-v cannot be combined with --output openmetrics");
  }
  ParsedOptions out = with(Action::Run, "");
  out.config = std::move(*config);
  out.config.verbosity = verbosity;
  return out;
}

std::string version_text() { return "check_smtp_verify " SMTPVERIFY_VERSION; }

}  // namespace smtpverify::check
