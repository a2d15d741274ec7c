// tls: the listener's TLS (PROTOCOL §7, --tls-cert / --tls-key). One OpenSSL server context
// built from the PEM files — TLS 1.2 at least, for 1.2 only ECDHE with AES-GCM or
// ChaCha20-Poly1305 (1.3 keeps OpenSSL's suites, all AEAD), the server's order of preference,
// no compression, no renegotiation, ALPN http/1.1 — and its replacement on SIGHUP: reload()
// reads the files again into a new context that new connections get, while every existing
// connection keeps the context it started with (it holds a shared pointer to it). A pair that
// does not load or does not match leaves the old context serving.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace shub {

// A TLS connection: the stream over the socket, and its deadline (the handshake's, the
// HTTP request's) from tcp_stream as on the plain path.
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
using tls_context_ptr = std::shared_ptr<boost::asio::ssl::context>;

// A server context from a PEM certificate chain and its private key; throws
// std::runtime_error saying which file is wrong and why.
[[nodiscard]] tls_context_ptr make_tls_context(const std::string& cert_file,
                                               const std::string& key_file);

// What the logs say about a context's certificate: subject, serial (hex) and expiry.
struct tls_certificate_info {
  std::string subject, serial, not_after;
};
[[nodiscard]] tls_certificate_info describe_certificate(boost::asio::ssl::context& ctx);

// Sends close_notify without waiting for the peer's (it may never send one): the peer's is
// marked as received, so the shutdown only writes, within `timeout` (the stream's deadline);
// then `done(ec)`.
template <class Done>
void send_close_notify(tls_stream& s, std::chrono::steady_clock::duration timeout, Done done) {
  boost::beast::get_lowest_layer(s).expires_after(timeout);
  SSL* ssl = s.native_handle();
  SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
  s.async_shutdown(std::move(done));
}

class tls_contexts {
 public:
  // Loads the pair (start-up: throws as make_tls_context).
  tls_contexts(std::string cert_file, std::string key_file);

  // The context for a new connection. Any thread.
  [[nodiscard]] tls_context_ptr current() const;
  // Re-reads the files; logs tls_reloaded, or tls_reload_failed and keeps the old context.
  // Returns whether the new pair is now served. Any thread (it reads files: not a network one).
  bool reload();

 private:
  std::string cert_file_, key_file_;
  mutable std::mutex mutex_;
  tls_context_ptr current_;
};

}  // namespace shub
