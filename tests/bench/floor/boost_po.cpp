// Floor of the benchmark (tests/bench/run.sh): the libstdc++ floor plus Debian's
// Boost.Program_options, linked dynamically as the default build links it (its load runs
// std::ios_base::Init, which builds the classic locale), parsing "-H 127.0.0.1 -p 25". No SMTP.
#include <boost/program_options.hpp>
#include <cstdio>
#include <string>

namespace po = boost::program_options;

int main(int argc, char** argv) {
  po::options_description options;
  options.add_options()("hostname,H", po::value<std::string>(), "host")("port,p", po::value<int>(),
                                                                        "port");
  po::variables_map vm;
  po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
  const std::string host = vm.count("hostname") != 0 ? vm["hostname"].as<std::string>() : "";
  const int port = vm.count("port") != 0 ? vm["port"].as<int>() : 0;
  std::printf("%s:%d\n", host.c_str(), port);
  return 0;
}
