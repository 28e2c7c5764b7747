// Whether this build runs under AddressSanitizer (GCC defines __SANITIZE_ADDRESS__; clang
// answers __has_feature(address_sanitizer)). What ASan changes for us: its malloc must stay
// first in every lookup (no RTLD_DEEPBIND, net/module_loader.cpp) and it reserves terabytes of
// shadow address space (no RLIMIT_AS, check/regex.cpp).
#pragma once

namespace smtpverify::util {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace smtpverify::util
