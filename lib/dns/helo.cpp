#include "dns/helo.h"

namespace smtpverify::dns {

HeloLookup::HeloLookup(Resolver& resolver, const std::string& name)
    : resolver_(resolver), state_(std::make_shared<State>()) {
  for (const int type : {kTypeA, kTypeAaaa}) {
    resolver_.query(
        name, type, [state = state_, type](int status, const unsigned char* answer, int length) {
          (type == kTypeA ? state->status4 : state->status6) = status;
          if (status == ARES_SUCCESS) {
            (type == kTypeA ? state->v4 : state->v6) = address_records(type, answer, length);
          }
          if (--state->pending == 0) {
            state->finished = std::chrono::steady_clock::now();
            state->done = true;
          }
        });
  }
}

HeloAnswer HeloLookup::answer() const {
  HeloAnswer a;
  a.finished = state_->finished;
  a.addresses = state_->v4;
  a.addresses.insert(a.addresses.end(), state_->v6.begin(), state_->v6.end());
  if (!a.addresses.empty()) {
    a.status = Status::Ok;
    return a;
  }
  // The worst of the two tells: a failure beats "no such name" beats "no address".
  const int s4 = state_->status4;
  const int s6 = state_->status6;
  int worst = s4 != ARES_SUCCESS ? s4 : s6;
  for (const int code : {ARES_ENOTFOUND, ARES_ESERVFAIL, ARES_EREFUSED, ARES_ETIMEOUT,
                         ARES_ECANCELLED, ARES_EDESTRUCTION, ARES_ECONNREFUSED}) {
    if (s4 == code || s6 == code) worst = code;
  }
  if ((s4 == ARES_SUCCESS || s4 == ARES_ENODATA) && (s6 == ARES_SUCCESS || s6 == ARES_ENODATA)) {
    worst = ARES_ENODATA;  // answered, but without an address
  }
  a.status = status_of(worst);
  a.error = status_words(worst);
  // The HELO finding names DNS as the one failing ("DNS SERVFAIL"), not the SMTP server.
  if (a.status == Status::ServFail) a.error = "DNS " + a.error;
  if (a.status == Status::Error && worst != ARES_ECONNREFUSED) a.error = "DNS error: " + a.error;
  return a;
}

}  // namespace smtpverify::dns
