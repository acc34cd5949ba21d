// A consistent copy of a member's database as a byte stream (Maintenance.Snapshot, what
// `etcdctl snapshot save` stores). Cairn's own format, as etcd's is a bbolt file:
//   "CAIRNSNAP1\n", then per file: name length (4 bytes, big-endian), name, size (8 bytes,
//   big-endian), contents; then zeros up to a multiple of 512 bytes; then the SHA-256 of
//   everything before it. (etcd appends a SHA-256 to its page-sized bbolt file, and
//   etcdctl checks that a snapshot is 512-byte pages plus that hash.)
// `cairnctl snapshot restore` (to come) unpacks it into a data directory.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>

#include "base/status.h"
#include "storage/db.h"

namespace cairn::server {

// A snapshot's bytes, read in pieces (what the peer transport sends to a follower).
class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  virtual uint64_t total_bytes() const = 0;
  // Appends up to `max` bytes of the stream to `out`; an empty result means the end.
  virtual Status Read(size_t max, std::string* out) = 0;
};

// Thread safety: one thread at a time. Holds WiredTiger's backup cursor while it lives,
// which keeps the files it lists consistent; only one may exist per database at a time.
class SnapshotReader final : public SnapshotSource {
 public:
  // Checkpoints, opens the backup cursor and sizes the files. Unavailable when another
  // snapshot is being taken.
  static Result<std::unique_ptr<SnapshotReader>> Open(storage::Db* db, const std::string& dir);
  ~SnapshotReader() override;
  SnapshotReader(const SnapshotReader&) = delete;
  SnapshotReader& operator=(const SnapshotReader&) = delete;

  uint64_t total_bytes() const override { return total_; }
  uint64_t remaining_bytes() const { return total_ - sent_; }
  // Appends up to `max` bytes of the stream to `out`; an empty result means the end.
  Status Read(size_t max, std::string* out) override;

 private:
  struct File {
    std::string name;
    uint64_t size = 0;
  };
  SnapshotReader() = default;
  void Emit(std::string_view bytes, std::string* out);

  std::unique_ptr<storage::Session> session_;
  WT_CURSOR* backup_ = nullptr;
  std::string dir_;
  std::vector<File> files_;
  size_t file_index_ = 0;
  bool header_done_ = false;  // the magic and the current file's header went out
  std::ifstream in_;
  uint64_t file_left_ = 0;
  bool padding_done_ = false;
  bool trailer_done_ = false;
  uint64_t total_ = 0;
  uint64_t sent_ = 0;
  EVP_MD_CTX* sha_ = nullptr;
};

}  // namespace cairn::server
