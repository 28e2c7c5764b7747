// Floor of the benchmark (tests/bench/run.sh): what any C++ program costs that links Debian's
// libstdc++ dynamically, as the default build of the plugin does: the loader maps and binds
// libstdc++ (with libm and libgcc_s), then main builds one string and prints it. No SMTP.
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  std::string text(argc > 0 ? argv[0] : "floor");
  text += " done, nothing else";
  std::printf("%zu\n", text.size());
  return 0;
}
