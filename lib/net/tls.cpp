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

tl::expected<Handshaken, HandshakeFailure> TlsStream::handshake(Fd fd, const TlsOptions& options,
                                                                const Deadline& deadline) {
  const auto failed = [](TlsFailure failure, std::optional<Handshaken> untrusted = {}) {
    return tl::unexpected(HandshakeFailure{std::move(failure), std::move(untrusted)});
  };
  const auto& backend = tls_backend();
  if (!backend) return failed({TlsFailure::Kind::Setup, backend.error()});
  struct Out {
    TlsFacts facts;
    std::optional<TlsFailure> failure;
  } out;
  const TlsReport report{&out, [](void* context, const TlsFacts& f, const TlsFailure* e) {
                           auto* o = static_cast<Out*>(context);
                           o->facts = f;
                           if (e != nullptr) o->failure = *e;
                         }};
  auto channel = (*backend)->handshake(std::move(fd), options, deadline, report);
  std::optional<Handshaken> done;
  if (channel) {
    auto impl = std::make_unique<Impl>();
    impl->channel = std::move(channel);
    done = Handshaken{std::unique_ptr<TlsStream>(new TlsStream(std::move(impl))),
                      std::move(out.facts)};
  }
  if (out.failure) return failed(std::move(*out.failure), std::move(done));
  if (!done) return failed({TlsFailure::Kind::Setup, "internal error: TLS gave no channel"});
  return std::move(*done);
}

tl::expected<std::size_t, IoError> TlsStream::read(char* buffer, std::size_t size,
                                                   const Deadline& deadline) {
  return impl_->channel->read(buffer, size, deadline);
}

tl::expected<void, IoError> TlsStream::write_all(std::string_view data, const Deadline& deadline) {
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
