// Why this exists: OpenSSL 3 makes many thousands of small, short-lived allocations for one
// verified handshake (method stores, name maps, decoder chains), and through glibc's malloc
// they were a large share of a STARTTLS check's cost (figures: tests/bench/README.md). The
// plugin is a short, single-threaded process, so the TLS module hands OpenSSL a size-class
// allocator instead: a bump pointer through one reserved region (pages count only once
// touched), freed blocks kept on one list per 16-byte class for reuse (so peak memory stays
// near glibc's), and anything over 1 KiB, any call from a second thread and anything once the
// region is used up passed to malloc unchanged (so valgrind sees those blocks as they are).
// Only in the module (SMTPVERIFY_TLS_ARENA): never in the tests, which run OpenSSL servers on
// other threads, nor under the sanitizers, which must see every block. The state is global
// because CRYPTO_set_mem_functions() takes plain functions; it belongs to the module alone.
#include "net/tls_arena.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <sys/mman.h>

#include <array>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace smtpverify::net::arena {

namespace {

constexpr std::size_t kAlign = 16;
constexpr std::size_t kHeader = 16;  // keeps blocks 16-byte aligned; holds the size class
constexpr std::size_t kMaxSmall = 1024;
constexpr std::size_t kClasses = kMaxSmall / kAlign + 1;
constexpr std::size_t kRegion = 16 * 1024 * 1024;  // address space, reserved not committed

struct FreeBlock {
  FreeBlock* next;
};

struct State {
  char* begin = nullptr;
  char* cursor = nullptr;
  char* end = nullptr;
  std::array<FreeBlock*, kClasses> free{};
  pthread_t owner{};
};
State state;

bool ours(const void* block) {
  const auto* p = static_cast<const char*>(block);
  return p >= state.begin && p < state.end;
}

std::size_t& class_of(void* block) {
  return *reinterpret_cast<std::size_t*>(static_cast<char*>(block) - kHeader);
}

bool on_owner_thread() { return pthread_equal(pthread_self(), state.owner) != 0; }

void* allocate(std::size_t n, const char* /*file*/, int /*line*/) {
  if (n > kMaxSmall || !on_owner_thread()) return std::malloc(n);
  const std::size_t cls = n == 0 ? 1 : (n + kAlign - 1) / kAlign;
  if (FreeBlock* b = state.free[cls]) {
    state.free[cls] = b->next;
    return b;
  }
  const std::size_t need = kHeader + cls * kAlign;
  if (static_cast<std::size_t>(state.end - state.cursor) < need) return std::malloc(n);
  char* block = state.cursor + kHeader;
  state.cursor += need;
  class_of(block) = cls;
  return block;
}

void release(void* block, const char* /*file*/, int /*line*/) {
  if (!ours(block)) {
    std::free(block);
  } else if (on_owner_thread()) {
    auto* b = static_cast<FreeBlock*>(block);
    b->next = state.free[class_of(block)];
    state.free[class_of(block)] = b;
  }
}

void* reallocate(void* block, std::size_t n, const char* file, int line) {
  if (block == nullptr) return allocate(n, file, line);
  if (n == 0) {
    release(block, file, line);
    return nullptr;
  }
  if (!ours(block)) return std::realloc(block, n);
  const std::size_t capacity = class_of(block) * kAlign;
  if (n <= capacity) return block;
  void* bigger = allocate(n, file, line);
  if (bigger == nullptr) return nullptr;
  std::memcpy(bigger, block, capacity);
  release(block, file, line);
  return bigger;
}

}  // namespace

void install() {
  void* region = ::mmap(nullptr, kRegion, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (region == MAP_FAILED) return;
  state.begin = state.cursor = static_cast<char*>(region);
  state.end = state.begin + kRegion;
  state.owner = pthread_self();
  CRYPTO_set_mem_functions(allocate, reallocate, release);
}

}  // namespace smtpverify::net::arena
