// Secrets (the AUTH password and its encodings) are overwritten before their memory is given
// back, so that they do not linger in freed heap blocks or core files.
#pragma once

#include <string.h>  // explicit_bzero (glibc): a write the compiler may not remove

#include <string>

namespace smtpverify::util {

/// Overwrites every byte of `s` with zero, then empties it (its buffer is kept).
inline void wipe(std::string& s) {
  ::explicit_bzero(s.data(), s.size());
  s.clear();
}

}  // namespace smtpverify::util
