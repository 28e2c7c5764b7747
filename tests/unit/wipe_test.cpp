// util::wipe: a secret's bytes are overwritten before its memory can be reused.
#include "util/wipe.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace smtpverify::util {
namespace {

TEST(Wipe, OverwritesEveryByteAndEmpties) {
  for (const std::size_t size : {std::size_t{5}, std::size_t{200}}) {  // inline and on the heap
    std::string secret(size, 'x');
    const char* bytes = secret.data();
    wipe(secret);
    EXPECT_TRUE(secret.empty());
    EXPECT_EQ(secret.data(), bytes);  // the buffer is kept, so it can be read here
    EXPECT_EQ(std::string_view(bytes, size), std::string(size, '\0'));
  }
}

}  // namespace
}  // namespace smtpverify::util
