// The allocator the TLS module gives OpenSSL (tls_arena.cpp). Internal to lib/net.
#pragma once

namespace smtpverify::net::arena {

/// Hands OpenSSL the arena allocator. Must run before OpenSSL allocates anything (else OpenSSL
/// refuses and keeps malloc); does nothing when the region cannot be reserved.
void install();

}  // namespace smtpverify::net::arena
