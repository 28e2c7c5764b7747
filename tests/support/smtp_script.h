// Pieces of FakeSmtpServer scripts that many tests use: joining script parts, the QUIT at the
// end, and the shortest good dialogue.
#pragma once

#include <string>
#include <vector>

#include "fake_smtp_server.h"

namespace smtpverify::test {

/// The HELO name the tests' checks use (component_util.h's config_for).
inline const std::string kProbeHelo = "probe.smtpverify.test";

/// a, then b: script parts joined in order.
inline std::vector<Step> operator+(std::vector<Step> a, const std::vector<Step>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// QUIT answered with reply, then the client closes.
inline std::vector<Step> quit(const std::string& reply = "221 2.0.0 Bye") {
  return {expect("QUIT"), send_raw(reply + "\r\n"), expect_close()};
}

/// The shortest good dialogue: greeting, EHLO helo answered "250 mx", QUIT answered 221.
inline std::vector<Step> ok_script(const std::string& helo = kProbeHelo,
                                   const std::string& greeting = "220 mx ESMTP Fake") {
  return std::vector<Step>{send_raw(greeting + "\r\n"), expect("EHLO " + helo),
                           send_raw("250 mx\r\n")} +
         quit("221 bye");
}

}  // namespace smtpverify::test
