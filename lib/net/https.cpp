#include "net/https.h"

#include "net/https_backend.h"

namespace smtpverify::net {

namespace {

struct Outcome {
  HttpsResponse response;
  std::string error;
};

void deliver(void* context, long status, std::string_view content_type, std::string_view body,
             std::string_view error) {
  auto* out = static_cast<Outcome*>(context);
  out->response.status = status;
  out->response.content_type = std::string(content_type);
  out->response.body = std::string(body);
  out->error = std::string(error);
}

}  // namespace

tl::expected<void, std::string> https_ready() {
  const auto& backend = https_backend();
  if (!backend) return tl::unexpected(backend.error());
  return {};
}

tl::expected<HttpsResponse, std::string> https_get(const HttpsRequest& request,
                                                   const Deadline& deadline) {
  const auto& backend = https_backend();
  if (!backend) return tl::unexpected(backend.error());
  Outcome out;
  (*backend)->get(request, deadline, HttpsReport{&out, &deliver});
  if (!out.error.empty()) return tl::unexpected(out.error);
  return std::move(out.response);
}

}  // namespace smtpverify::net
