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
#include <string_view>
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

// Unpacks a snapshot stream into a directory as it arrives, checking its SHA-256 at the
// end. The directory is created (it must not exist) and holds complete, synced files once
// Finish succeeded; the caller removes it otherwise.
// Thread safety: one thread at a time.
class SnapshotUnpacker {
 public:
  static Result<std::unique_ptr<SnapshotUnpacker>> Create(const std::string& dir,
                                                          uint64_t total_bytes);
  ~SnapshotUnpacker();
  SnapshotUnpacker(const SnapshotUnpacker&) = delete;
  SnapshotUnpacker& operator=(const SnapshotUnpacker&) = delete;

  Status Write(std::string_view bytes);
  // Every byte arrived, the hash matches and the files are on disk.
  Status Finish();

 private:
  SnapshotUnpacker() = default;
  Status Consume(std::string_view bytes);

  std::string dir_;
  uint64_t total_ = 0;
  uint64_t seen_ = 0;
  std::string pending_;  // header bytes not yet complete
  enum class State {
    kMagic,
    kNameLength,
    kName,
    kSize,
    kContents,
    kPadding
  } state_ = State::kMagic;
  uint64_t need_ = 0;  // bytes the current state still needs
  std::string name_;
  std::ofstream out_;
  std::string trailer_;
  EVP_MD_CTX* sha_ = nullptr;
};

}  // namespace cairn::server
