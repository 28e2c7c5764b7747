#include "dns/txt.h"

#include <algorithm>

namespace smtpverify::dns {

namespace {

struct TxtFree {
  void operator()(ares_txt_ext* p) const { ares_free_data(p); }
};

}  // namespace

TxtResult parse_txt_answer(const unsigned char* answer, int length) {
  TxtResult out;
  ares_txt_ext* raw = nullptr;
  const int rc = ares_parse_txt_reply_ext(answer, length, &raw);
  const std::unique_ptr<ares_txt_ext, TxtFree> chunks(raw);
  if (rc == ARES_ENODATA) {
    out.status = Status::NoData;
    out.error = "no TXT record";
    return out;
  }
  if (rc != ARES_SUCCESS) {
    out.error = std::string("malformed TXT answer: ") + ares_strerror(rc);
    return out;
  }
  bool keep = false;  // the record the chunk belongs to is kept
  for (const ares_txt_ext* c = chunks.get(); c != nullptr; c = c->next) {
    if (c->record_start != 0 || out.records.empty()) {
      keep = out.records.size() < kMaxTxtRecords;
      if (keep) out.records.emplace_back();
    }
    if (!keep || c->txt == nullptr) continue;
    std::string& record = out.records.back();
    const std::size_t room = kMaxTxtLength - std::min(kMaxTxtLength, record.size());
    record.append(reinterpret_cast<const char*>(c->txt), std::min(room, c->length));
  }
  out.status = out.records.empty() ? Status::NoData : Status::Ok;
  if (out.records.empty()) out.error = "no TXT record";
  return out;
}

TxtLookup::TxtLookup(Resolver& resolver, const std::string& name)
    : resolver_(resolver), state_(std::make_shared<State>()) {
  state_->result = {Status::Timeout, {}, status_words(ARES_ETIMEOUT)};
  resolver_.query(
      name, 16 /* TXT */, [state = state_](int status, const unsigned char* answer, int length) {
        state->done = true;
        if (status == ARES_SUCCESS) {
          state->result = parse_txt_answer(answer, length);
        } else {
          state->result = {status_of(status),
                           {},
                           status == ARES_ENODATA ? "no TXT record" : status_words(status)};
        }
      });
}

TxtResult TxtLookup::answer() const { return state_->result; }

}  // namespace smtpverify::dns
