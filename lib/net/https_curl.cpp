// The HTTPS backend on libcurl (Debian's libcurl4-openssl): the plugin's HTTPS module, or
// linked into the tests. Only https_backend.h's types cross; see https.h for the promise.
#include <curl/curl.h>

#include <memory>
#include <string>

#include "net/https_backend.h"
#include "net/sigpipe.h"

namespace smtpverify::net {

namespace {

struct EasyFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct ListFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct Body {
  std::string data;
  std::size_t max = 0;
  bool over = false;
};

// libcurl's write callback: keeps at most `max` bytes; more ends the transfer.
std::size_t collect(char* data, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<Body*>(user);
  const std::size_t n = size * count;
  if (body->data.size() + n > body->max) {
    body->over = true;
    return 0;  // CURLE_WRITE_ERROR
  }
  body->data.append(data, n);
  return n;
}

// "HOST:PORT:ADDR,ADDR": the only addresses libcurl may connect to (our resolver's answer).
std::string resolve_entry(const HttpsRequest& r) {
  std::string entry = r.host + ":" + std::to_string(r.port) + ":";
  for (std::size_t i = 0; i < r.addresses.size(); ++i) {
    const bool v6 = r.addresses[i].find(':') != std::string::npos;
    entry += (i > 0 ? "," : "") + (v6 ? "[" + r.addresses[i] + "]" : r.addresses[i]);
  }
  return entry;
}

// Sets an option; false (and `failed` set) when libcurl does not take it.
template <typename T>
bool set(CURL* curl, CURLoption option, T value, CURLcode& failed) {
  const CURLcode rc = curl_easy_setopt(curl, option, value);
  if (rc != CURLE_OK && failed == CURLE_OK) failed = rc;
  return rc == CURLE_OK;
}

void get(const HttpsRequest& request, const Deadline& deadline, const HttpsReport& report) {
  const auto fail = [&report](const std::string& error) {
    report.deliver(report.context, 0, {}, {}, error);
  };
  if (request.addresses.empty()) return fail("no address to connect to");
  const int left_ms = deadline.poll_timeout_ms();
  if (left_ms <= 0) return fail("timeout");
  const std::unique_ptr<CURL, EasyFree> curl(curl_easy_init());
  if (!curl) return fail("cannot start libcurl");
  const std::unique_ptr<curl_slist, ListFree> resolve(
      curl_slist_append(nullptr, resolve_entry(request).c_str()));
  if (!resolve) return fail("out of memory");
  const std::string url =
      "https://" + request.host + ":" + std::to_string(request.port) + request.path;
  char error[CURL_ERROR_SIZE] = {};
  Body body{{}, request.max_body, false};
  CURL* c = curl.get();
  CURLcode setup = CURLE_OK;
  set(c, CURLOPT_ERRORBUFFER, error, setup);
  set(c, CURLOPT_URL, url.c_str(), setup);
  set(c, CURLOPT_RESOLVE, resolve.get(), setup);
  set(c, CURLOPT_PROTOCOLS_STR, "https", setup);
  set(c, CURLOPT_REDIR_PROTOCOLS_STR, "https", setup);
  set(c, CURLOPT_FOLLOWLOCATION, 0L, setup);  // RFC 8461 §3.3: no redirects
  set(c, CURLOPT_PROXY, "", setup);           // no proxy from the environment: our address
  set(c, CURLOPT_NOSIGNAL, 1L, setup);        // no SIGALRM: the deadline is ours
  set(c, CURLOPT_TIMEOUT_MS, static_cast<long>(left_ms), setup);
  set(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(left_ms), setup);
  set(c, CURLOPT_SSL_VERIFYPEER, 1L, setup);
  set(c, CURLOPT_SSL_VERIFYHOST, 2L, setup);
  set(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2), setup);
  if (request.ca_file || request.ca_path) {  // only these, as the SMTP check trusts only these
    set(c, CURLOPT_CAINFO, request.ca_file ? request.ca_file->c_str() : nullptr, setup);
    set(c, CURLOPT_CAPATH, request.ca_path ? request.ca_path->c_str() : nullptr, setup);
  }
  set(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request.max_body), setup);
  set(c, CURLOPT_WRITEFUNCTION, &collect, setup);
  set(c, CURLOPT_WRITEDATA, &body, setup);
  set(c, CURLOPT_USERAGENT, "check_smtp_verify/" SMTPVERIFY_HTTPS_ABI_VERSION, setup);
  if (setup != CURLE_OK) {
    return fail(std::string("libcurl refused an option: ") + curl_easy_strerror(setup));
  }
  CURLcode rc = CURLE_OK;
  {
    const SigpipeGuard guard;  // CURLOPT_NOSIGNAL: libcurl leaves SIGPIPE to us
    rc = curl_easy_perform(c);
  }
  if (body.over || rc == CURLE_FILESIZE_EXCEEDED) {
    return fail("body over " + std::to_string(request.max_body) + " bytes");
  }
  if (rc != CURLE_OK) {
    std::string words = error[0] != '\0' ? std::string(error) : curl_easy_strerror(rc);
    if (rc == CURLE_OPERATION_TIMEDOUT) words = "timeout";
    if (rc == CURLE_PEER_FAILED_VERIFICATION) words = "certificate verify failed: " + words;
    return fail(words);
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  const char* type = nullptr;
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
  report.deliver(report.context, status, type != nullptr ? type : "", body.data, {});
}

}  // namespace

}  // namespace smtpverify::net

extern "C" const smtpverify::net::HttpsBackend* smtpverify_https_backend_v1() {
  static const smtpverify::net::HttpsBackend backend{smtpverify::net::https_backend_abi(),
                                                     &smtpverify::net::get};
  return &backend;
}
