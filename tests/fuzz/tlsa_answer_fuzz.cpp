// Fuzz target: dns::parse_tlsa_answer on arbitrary bytes, i.e. whatever a resolver (or someone
// spoofing one) sends back to our TLSA query for _25._tcp.mx.smtpverify.test. Only Ok and
// Insecure carry records, each one well-formed (RFC 6698 §2.1), and never more than the
// message could hold.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dns/tlsa.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using smtpverify::dns::TlsaResult;
  const std::string_view msg(reinterpret_cast<const char*>(data), size);
  const TlsaResult r = smtpverify::dns::parse_tlsa_answer(msg, "_25._tcp.mx.smtpverify.test");
  const bool with_records =
      r.status == TlsaResult::Status::Ok || r.status == TlsaResult::Status::Insecure;
  FUZZ_CHECK(with_records == !r.records.empty());
  FUZZ_CHECK((r.status == TlsaResult::Status::Ok) == r.error.empty());
  if (with_records) FUZZ_CHECK(r.authenticated == (r.status == TlsaResult::Status::Ok));
  // Header and question come first; every TLSA RR takes at least 14 bytes after them.
  FUZZ_CHECK(r.records.size() <= size / 14);
  for (const auto& rec : r.records) {
    FUZZ_CHECK(!rec.data.empty());
    if (rec.mtype == 1) FUZZ_CHECK(rec.data.size() == 32);
    if (rec.mtype == 2) FUZZ_CHECK(rec.data.size() == 64);
    const std::string prefix = std::to_string(rec.usage) + " " + std::to_string(rec.selector) +
                               " " + std::to_string(rec.mtype) + " ";
    const std::string text = smtpverify::dns::tlsa_text(rec);
    FUZZ_CHECK(text.rfind(prefix, 0) == 0 && text.size() == prefix.size() + 2 * rec.data.size());
  }
  return 0;
}
