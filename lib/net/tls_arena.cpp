// Why this exists: OpenSSL 3 makes many thousands of small, short-lived allocations for one
// verified handshake (method stores, name maps, decoder chains), and through glibc's malloc
// they were a large share of a STARTTLS check's cost (figures: tests/bench/README.md). The
// plugin is a short, single-threaded process, so the TLS module hands OpenSSL a size-class
// allocator instead: bump pointers through one reserved region (pages count only once
// touched; what a check holds while it waits on a slow server is measured by
// tests/bench/inflight.py), freed blocks kept on one list per 16-byte class for reuse (so peak
// memory stays near glibc's), and anything over 1 KiB, any call from a second thread and anything
// once the region is used up passed to malloc unchanged (so valgrind sees those blocks as they
// are). Only in the module (SMTPVERIFY_TLS_ARENA): never in the tests, which run OpenSSL servers on
// other threads, nor under the sanitizers, which must see every block. The state is global
// because CRYPTO_set_mem_functions() takes plain functions; it belongs to the module alone.
#include "net/tls_arena.h"

#include <openssl/crypto.h>
#include <sys/mman.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace smtpverify::net::arena {

namespace {

constexpr std::size_t kAlign = 16;
constexpr std::size_t kHeader = 16;  // shared lane: keeps blocks 16-byte aligned, holds the class
constexpr std::size_t kMaxSmall = 1024;
constexpr std::size_t kClasses = kMaxSmall / kAlign + 1;
constexpr std::size_t kRegion = 16 * 1024 * 1024;  // address space, reserved not committed
// The smallest classes (most of OpenSSL's blocks: names, hash nodes, stack entries) come from
// a lane of their own each, so they need no header: the address tells the class. Larger
// blocks are few and come, with a header, from one shared bump lane; a lane of their own
// would leave a mostly empty page each.
constexpr std::size_t kLaneClasses = 8;  // 16 .. 128 bytes
constexpr std::size_t kLane = 1024 * 1024;
constexpr std::size_t kShared = kLaneClasses * kLane;  // the shared lane starts here

struct FreeBlock {
  FreeBlock* next;
};

struct Lane {
  char* cursor = nullptr;
  char* end = nullptr;
};

struct State {
  char* begin = nullptr;
  std::array<Lane, kLaneClasses + 1> lanes{};  // [cls] for the small classes, [0] shared
  std::array<FreeBlock*, kClasses> free{};
  void* owner = nullptr;  // the installing thread's thread pointer
};
State state;

// The block's offset in the region; kRegion or more when the block is not ours.
std::uintptr_t offset_of(const void* block) {
  return reinterpret_cast<std::uintptr_t>(block) - reinterpret_cast<std::uintptr_t>(state.begin);
}

std::size_t& header_of(void* block) {
  return *reinterpret_cast<std::size_t*>(static_cast<char*>(block) - kHeader);
}

// The size class of the block at that offset of the region.
std::size_t class_at(void* block, std::uintptr_t offset) {
  return offset < kShared ? offset / kLane + 1 : header_of(block);
}

// The thread pointer (%fs:0 on x86-64: one load) tells threads apart as pthread_self() does,
// without a call into libc on every allocation.
bool on_owner_thread() { return __builtin_thread_pointer() == state.owner; }

void* allocate(std::size_t n, const char* /*file*/, int /*line*/) {
  if (n > kMaxSmall || !on_owner_thread()) return std::malloc(n);
  const std::size_t cls = n == 0 ? 1 : (n + kAlign - 1) / kAlign;
  if (FreeBlock* b = state.free[cls]) {
    state.free[cls] = b->next;
    return b;
  }
  const std::size_t size = cls * kAlign;
  if (cls <= kLaneClasses) {
    Lane& lane = state.lanes[cls];
    if (static_cast<std::size_t>(lane.end - lane.cursor) < size) return std::malloc(n);
    char* block = lane.cursor;
    lane.cursor += size;
    return block;
  }
  Lane& shared = state.lanes[0];
  if (static_cast<std::size_t>(shared.end - shared.cursor) < kHeader + size) return std::malloc(n);
  char* block = shared.cursor + kHeader;
  shared.cursor += kHeader + size;
  header_of(block) = cls;
  return block;
}

void release(void* block, const char* /*file*/, int /*line*/) {
  const std::uintptr_t offset = offset_of(block);
  if (offset >= kRegion) {
    std::free(block);
  } else if (on_owner_thread()) {
    const std::size_t cls = class_at(block, offset);
    auto* b = static_cast<FreeBlock*>(block);
    b->next = state.free[cls];
    state.free[cls] = b;
  }
}

void* reallocate(void* block, std::size_t n, const char* file, int line) {
  if (block == nullptr) return allocate(n, file, line);
  if (n == 0) {
    release(block, file, line);
    return nullptr;
  }
  const std::uintptr_t offset = offset_of(block);
  if (offset >= kRegion) return std::realloc(block, n);
  const std::size_t capacity = class_at(block, offset) * kAlign;
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
  state.begin = static_cast<char*>(region);
  for (std::size_t cls = 1; cls <= kLaneClasses; ++cls) {
    state.lanes[cls] = {state.begin + (cls - 1) * kLane, state.begin + cls * kLane};
  }
  state.lanes[0] = {state.begin + kShared, state.begin + kRegion};
  state.owner = __builtin_thread_pointer();
  CRYPTO_set_mem_functions(allocate, reallocate, release);
}

}  // namespace smtpverify::net::arena
