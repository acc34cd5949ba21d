// etcd's id derivations over OpenSSL's SHA-1.
#include "server/ids.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>

namespace cairn::server {
namespace {

uint64_t Sha1Prefix(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha1(), nullptr);
  uint64_t out = 0;
  for (int i = 0; i < 8; ++i) out = (out << 8) | digest[i];
  return out;
}

}  // namespace

uint64_t ComputeMemberId(const std::vector<Url>& peer_urls, const std::string& token) {
  std::vector<std::string> urls;
  for (const Url& u : peer_urls) urls.push_back(u.text);
  std::sort(urls.begin(), urls.end());
  std::string bytes;
  for (const std::string& u : urls) bytes += u;
  bytes += token;
  return Sha1Prefix(bytes);
}

uint64_t ComputeClusterId(std::vector<uint64_t> member_ids) {
  std::sort(member_ids.begin(), member_ids.end());
  std::string bytes;
  for (uint64_t id : member_ids) {
    for (int shift = 56; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(id >> shift));
  }
  return Sha1Prefix(bytes);
}

std::string IdToHex(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(id));
  return buf;
}

}  // namespace cairn::server
