#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root: installs every package the tests
# need, builds twice (plain, and ASan+UBSan with clang), checks the format, and runs all tiers:
# unit, component, e2e (valgrind memcheck included) and integration (a private Postfix and
# unbound started by the tests themselves); replays and then fuzzes every fuzz target for 60 s;
# runs the plugin under a real Icinga 2 and Nagios 4; builds, lints, installs and runs the .deb,
# and builds the .rpm. See tests/README.md for the tiers.
# Usage: bash tests/run-all.sh            (from the repository root; CI runs exactly this)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)

step() { printf '\n==> %s\n' "$*"; }

step "packages"
packages=(cmake make g++ clang clang-format pkg-config libboost-program-options-dev libssl-dev
          libc-ares-dev libcurl4-openssl-dev libexpected-dev nlohmann-json3-dev googletest libgtest-dev libgmock-dev libclang-rt-14-dev
          valgrind python3-prometheus-client)
# shellcheck source=tests/lib.sh
source tests/lib.sh
install_missing "${packages[@]}"
bash tests/integration/postfix.sh install
bash tests/integration/unbound.sh install

step "format (clang-format 14)"
git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror

step "build (g++, RelWithDebInfo)"
cmake -S . -B build/ci -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/ci -j "$jobs"

step "tests: unit, component, e2e, integration"
(cd build/ci && ctest --output-on-failure -j "$jobs")

step "build (clang, ASan + UBSan)"
CXX=clang++ cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DSMTPVERIFY_SANITIZE=ON >/dev/null
cmake --build build/asan -j "$jobs"

step "tests under ASan + UBSan: unit, component, e2e"
(cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs" -L 'unit|component|e2e')

step "fuzzing: 60 s per target (clang, libFuzzer, ASan + UBSan)"
bash tests/fuzz/run.sh 60

step "Icinga 2 and Nagios 4 run the plugin through the shipped configuration"
bash tests/packaging/icinga_test.sh "$root/build/ci/plugin"
bash tests/packaging/nagios_test.sh "$root/build/ci/plugin"

step "packages: .deb built, linted, installed and run; .rpm built"
bash tests/packaging/deb_test.sh

step "all green"
echo "built in $root/build/ci; plugin: $root/build/ci/plugin/check_smtp_verify"
