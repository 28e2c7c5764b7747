// TlsStream: the TLS channel as the rest of the code sees it. The OpenSSL work happens behind
// tls_backend() (tls_backend.h): in a module the plugin loads on first use, or linked in.
#include "net/tls.h"

#include <stdexcept>

#include "net/tls_backend.h"

namespace smtpverify::net {

struct TlsStream::Impl {
  std::unique_ptr<Stream> channel;  // the backend's stream; owns the SSL and the socket
};

TlsStream::TlsStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TlsStream::~TlsStream() = default;

tl::expected<void, TlsFailure> load_tls() {
  if (!tls_backend())
    return tl::unexpected(TlsFailure{TlsFailure::Kind::Setup, tls_backend().error()});
  return {};
}

void TlsStream::prepare(const TlsOptions& options) {
  if (const auto& backend = tls_backend()) (*backend)->prepare(options);
}

std::unique_ptr<TlsStream> TlsStream::handshake(Fd fd, const TlsOptions& options,
                                                const Deadline& deadline, TlsFacts& facts,
                                                TlsFailure& failure) {
  failure = {};
  facts = {};
  const auto& backend = tls_backend();
  if (!backend) {
    failure = {TlsFailure::Kind::Setup, backend.error()};
    return nullptr;
  }
  struct Out {
    TlsFacts* facts;
    TlsFailure* failure;
  } out{&facts, &failure};
  const TlsReport report{&out, [](void* context, const TlsFacts& f, const TlsFailure& e) {
                           auto* o = static_cast<Out*>(context);
                           *o->facts = f;
                           *o->failure = e;
                         }};
  auto channel = (*backend)->handshake(std::move(fd), options, deadline, report);
  if (!channel) return nullptr;
  auto impl = std::make_unique<Impl>();
  impl->channel = std::move(channel);
  return std::unique_ptr<TlsStream>(new TlsStream(std::move(impl)));
}

IoResult TlsStream::read(char* buffer, std::size_t size, const Deadline& deadline) {
  return impl_->channel->read(buffer, size, deadline);
}

IoResult TlsStream::write_all(std::string_view data, const Deadline& deadline) {
  return impl_->channel->write_all(data, deadline);
}

std::string base64_encode(std::string_view data) {
  const auto& backend = tls_backend();
  if (!backend) throw std::runtime_error(backend.error());
  std::string out(base64_capacity(data.size()), '\0');
  out.resize((*backend)->base64_encode(data, out.data(), out.size()));
  return out;
}

}  // namespace smtpverify::net
