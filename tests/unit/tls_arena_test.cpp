// The allocator the TLS module gives OpenSSL (lib/net/tls_arena.cpp), in a process of its own:
// install() only works before OpenSSL's first allocation, and nothing else here uses OpenSSL.
// One test, in order: which blocks come from where depends on what came before.
#include "net/tls_arena.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <openssl/crypto.h>

#include <cstdint>
#include <cstring>
#include <thread>

namespace {

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

TEST(TlsArena, LanesSharedLaneReuseReallocAndOtherThreads) {
  smtpverify::net::arena::install();

  // Blocks of up to 128 bytes: one lane per 16-byte class, no header between them.
  void* a = OPENSSL_malloc(10);
  void* b = OPENSSL_malloc(16);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(address(b) - address(a), 16u) << "installed, and no header in the 16-byte lane";
  void* c = OPENSSL_malloc(128);
  void* d = OPENSSL_malloc(113);
  EXPECT_EQ(address(d) - address(c), 128u);
  // Larger blocks: one shared lane, a 16-byte header each.
  void* e = OPENSSL_malloc(129);
  void* f = OPENSSL_malloc(144);
  EXPECT_EQ(address(f) - address(e), 144u + 16u);
  for (void* p : {a, b, c, d, e, f}) EXPECT_EQ(address(p) % 16, 0u);
  std::memset(c, 0xc1, 128);
  std::memset(e, 0xe1, 129);

  // A freed block is the next one of its class (its lane or the shared lane alike).
  OPENSSL_free(b);
  EXPECT_EQ(OPENSSL_malloc(1), b);
  OPENSSL_free(e);
  EXPECT_EQ(OPENSSL_malloc(140), e);
  std::memset(e, 0xe2, 144);  // all of e's class: f's header behind it must survive
  OPENSSL_free(f);
  EXPECT_EQ(OPENSSL_malloc(130), f);

  // realloc: within the class the block stays; beyond it the content moves and the old block
  // is free for its class again.
  EXPECT_EQ(OPENSSL_realloc(c, 120), c);
  void* grown = OPENSSL_realloc(c, 600);
  ASSERT_NE(grown, nullptr);
  ASSERT_NE(grown, c);
  for (std::size_t i = 0; i < 128; ++i) {
    ASSERT_EQ(static_cast<unsigned char*>(grown)[i], 0xc1) << i;
  }
  EXPECT_EQ(OPENSSL_malloc(128), c);
  void* shrunk = OPENSSL_realloc(grown, 16);
  EXPECT_EQ(shrunk, grown) << "a smaller size fits the block it has";

  // Over 1 KiB, and anything from another thread: glibc's blocks.
  void* big = OPENSSL_malloc(5000);
  ASSERT_NE(big, nullptr);
  EXPECT_GE(malloc_usable_size(big), 5000u);
  OPENSSL_free(big);
  void* foreign = nullptr;
  std::thread([&foreign] { foreign = OPENSSL_malloc(24); }).join();
  ASSERT_NE(foreign, nullptr);
  EXPECT_GE(malloc_usable_size(foreign), 24u);
  OPENSSL_free(foreign);  // the owner frees a glibc block through glibc
}

}  // namespace
