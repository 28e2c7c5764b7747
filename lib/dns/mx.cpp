#include "dns/mx.h"

#include <algorithm>
#include <memory>

namespace smtpverify::dns {

namespace {

struct MxFree {
  void operator()(ares_mx_reply* p) const { ares_free_data(p); }
};

// Parses an MX answer: sorts by preference, detects the null MX, flags names that are not
// host names.
MxResult parse_mx_answer(const unsigned char* answer, int length) {
  MxResult out;
  ares_mx_reply* raw = nullptr;
  const int rc = ares_parse_mx_reply(answer, length, &raw);
  std::unique_ptr<ares_mx_reply, MxFree> replies(raw);
  if (rc == ARES_ENODATA) {
    out.status = Status::NoData;
    out.error = "no MX records";
    return out;
  }
  if (rc != ARES_SUCCESS) {
    out.status = Status::Error;
    out.error = std::string("malformed MX answer: ") + ares_strerror(rc);
    return out;
  }
  for (const ares_mx_reply* r = replies.get(); r != nullptr; r = r->next) {
    const std::string host = r->host != nullptr ? r->host : "";
    out.hosts.push_back({r->priority, host, is_host_name(host)});
  }
  // RFC 5321 §5.1: lower preference first; equal ones keep their order (tried in turn).
  std::stable_sort(out.hosts.begin(), out.hosts.end(),
                   [](const MxHost& a, const MxHost& b) { return a.preference < b.preference; });
  // RFC 7505 §3: a single MX of preference 0 with the root as exchange: no mail accepted.
  out.null_mx = out.hosts.size() == 1 && out.hosts[0].host.empty() && out.hosts[0].preference == 0;
  out.status = out.hosts.empty() ? Status::NoData : Status::Ok;
  if (out.hosts.empty()) out.error = "no MX records";
  return out;
}

}  // namespace

MxResult lookup_mx(Resolver& resolver, const std::string& domain, const net::Deadline& deadline) {
  // Shared with the callback, which may still run after a timeout (when the channel is
  // destroyed): it must never touch this stack frame.
  struct State {
    bool done = false;
    MxResult result;
  };
  auto state = std::make_shared<State>();
  resolver.query(domain, kTypeMx, [state](int status, const unsigned char* answer, int length) {
    state->done = true;
    if (status == ARES_SUCCESS) {
      state->result = parse_mx_answer(answer, length);
    } else {
      state->result = {status_of(status),
                       {},
                       false,
                       status == ARES_ENODATA ? "no MX records" : status_words(status)};
    }
  });
  if (!resolver.run(deadline, state->done)) {
    return {Status::Timeout, {}, false, status_words(ARES_ETIMEOUT)};
  }
  return state->result;
}

}  // namespace smtpverify::dns
