// Streams a WiredTiger hot backup as one Cairn snapshot.
#include "server/snapshot.h"

#include <fcntl.h>
#include <unistd.h>
#include <wiredtiger.h>

#include <filesystem>

namespace cairn::server {

namespace {

constexpr std::string_view kMagic = "CAIRNSNAP1\n";
constexpr size_t kHashSize = 32;
constexpr uint64_t kPage = 512;

std::string BigEndian(uint64_t v, int bytes) {
  std::string out(static_cast<size_t>(bytes), '\0');
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>(v >> (8 * (bytes - 1 - i)));
  return out;
}

}  // namespace

Result<std::unique_ptr<SnapshotReader>> SnapshotReader::Open(storage::Db* db,
                                                             const std::string& dir) {
  // The snapshot holds the state as of a checkpoint (plus the journal): take a fresh one.
  CAIRN_RETURN_IF_ERROR(db->Checkpoint());
  std::unique_ptr<SnapshotReader> r(new SnapshotReader());
  r->dir_ = dir;
  CAIRN_ASSIGN_OR_RETURN(r->session_, db->OpenSession());
  WT_SESSION* s = r->session_->get();
  int rc = s->open_cursor(s, "backup:", nullptr, nullptr, &r->backup_);
  // WiredTiger refuses a second backup cursor with EINVAL ("there is already a backup
  // cursor open"); with no configuration given, nothing else makes it EINVAL.
  if (rc == EBUSY || rc == EINVAL) return Unavailable("another snapshot is being taken");
  if (rc != 0) return Internal(std::string("cannot start a backup: ") + wiredtiger_strerror(rc));
  while ((rc = r->backup_->next(r->backup_)) == 0) {
    const char* name = nullptr;
    rc = r->backup_->get_key(r->backup_, &name);
    if (rc != 0) break;
    std::error_code ec;
    uint64_t size = std::filesystem::file_size(std::filesystem::path(dir) / name, ec);
    if (ec) return Internal("cannot size " + std::string(name) + ": " + ec.message());
    r->files_.push_back({name, size});
  }
  if (rc != WT_NOTFOUND) {
    return Internal(std::string("cannot list the backup: ") + wiredtiger_strerror(rc));
  }
  uint64_t body = kMagic.size();
  for (const File& f : r->files_) body += 4 + f.name.size() + 8 + f.size;
  r->total_ = (body + kPage - 1) / kPage * kPage + kHashSize;
  r->sha_ = EVP_MD_CTX_new();
  EVP_DigestInit_ex(r->sha_, EVP_sha256(), nullptr);
  return r;
}

SnapshotReader::~SnapshotReader() {
  if (backup_ != nullptr) backup_->close(backup_);
  if (sha_ != nullptr) EVP_MD_CTX_free(sha_);
}

void SnapshotReader::Emit(std::string_view bytes, std::string* out) {
  EVP_DigestUpdate(sha_, bytes.data(), bytes.size());
  out->append(bytes);
  sent_ += bytes.size();
}

Status SnapshotReader::Read(size_t max, std::string* out) {
  out->clear();
  if (sent_ == 0) Emit(kMagic, out);
  while (out->size() < max) {
    if (file_index_ == files_.size()) {
      if (!padding_done_) {
        Emit(std::string(static_cast<size_t>(total_ - kHashSize - sent_), '\0'), out);
        padding_done_ = true;
      }
      if (!trailer_done_) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        EVP_DigestFinal_ex(sha_, digest, &len);
        out->append(reinterpret_cast<const char*>(digest), len);
        sent_ += len;
        trailer_done_ = true;
      }
      return Status::Ok();
    }
    const File& f = files_[file_index_];
    if (!header_done_) {
      Emit(BigEndian(f.name.size(), 4), out);
      Emit(f.name, out);
      Emit(BigEndian(f.size, 8), out);
      in_ = std::ifstream(std::filesystem::path(dir_) / f.name, std::ios::binary);
      if (!in_) return Internal("cannot open " + f.name);
      file_left_ = f.size;
      header_done_ = true;
    }
    // Only the size taken when the backup started: what WiredTiger appends later belongs
    // to no checkpoint the snapshot refers to.
    std::string chunk(std::min<uint64_t>(file_left_, max - out->size()), '\0');
    in_.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    if (static_cast<size_t>(in_.gcount()) != chunk.size()) {
      return DataLoss("file shrank while being copied: " + f.name);
    }
    Emit(chunk, out);
    file_left_ -= chunk.size();
    if (file_left_ == 0) {
      in_.close();
      header_done_ = false;
      ++file_index_;
    }
  }
  return Status::Ok();
}

}  // namespace cairn::server

namespace cairn::server {

Result<std::unique_ptr<SnapshotUnpacker>> SnapshotUnpacker::Create(const std::string& dir,
                                                                   uint64_t total_bytes) {
  if (total_bytes < kMagic.size() + kHashSize) return InvalidArgument("snapshot too short");
  std::error_code ec;
  if (!std::filesystem::create_directory(dir, ec)) {
    return Internal("cannot create " + dir + (ec ? ": " + ec.message() : ": it exists"));
  }
  std::unique_ptr<SnapshotUnpacker> u(new SnapshotUnpacker());
  u->dir_ = dir;
  u->total_ = total_bytes;
  u->need_ = kMagic.size();
  u->sha_ = EVP_MD_CTX_new();
  EVP_DigestInit_ex(u->sha_, EVP_sha256(), nullptr);
  return u;
}

SnapshotUnpacker::~SnapshotUnpacker() {
  if (sha_ != nullptr) EVP_MD_CTX_free(sha_);
}

Status SnapshotUnpacker::Write(std::string_view bytes) {
  if (seen_ + bytes.size() > total_) return InvalidArgument("snapshot longer than announced");
  const uint64_t body_end = total_ - kHashSize;
  if (seen_ < body_end) {
    const size_t body = static_cast<size_t>(std::min<uint64_t>(bytes.size(), body_end - seen_));
    EVP_DigestUpdate(sha_, bytes.data(), body);
    CAIRN_RETURN_IF_ERROR(Consume(bytes.substr(0, body)));
    seen_ += body;
    bytes.remove_prefix(body);
  }
  trailer_.append(bytes);
  seen_ += bytes.size();
  return Status::Ok();
}

Status SnapshotUnpacker::Consume(std::string_view bytes) {
  auto be = [](std::string_view b) {
    uint64_t v = 0;
    for (unsigned char c : b) v = (v << 8) | c;
    return v;
  };
  while (!bytes.empty()) {
    if (state_ == State::kPadding) {
      if (bytes.find_first_not_of('\0') != std::string_view::npos) {
        return DataLoss("snapshot padding is not zero");
      }
      return Status::Ok();
    }
    if (state_ == State::kContents) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(need_, bytes.size()));
      out_.write(bytes.data(), static_cast<std::streamsize>(n));
      if (!out_) return Internal("cannot write " + name_);
      need_ -= n;
      bytes.remove_prefix(n);
      if (need_ == 0) {
        out_.close();
        state_ = State::kNameLength;
        need_ = 4;
      }
      continue;
    }
    // Header fields arrive whole in `pending_` first.
    const size_t n = static_cast<size_t>(std::min<uint64_t>(need_ - pending_.size(), bytes.size()));
    pending_.append(bytes.substr(0, n));
    bytes.remove_prefix(n);
    if (pending_.size() < need_) continue;
    std::string field = std::move(pending_);
    pending_.clear();
    switch (state_) {
      case State::kMagic:
        if (field != kMagic) return DataLoss("not a Cairn snapshot");
        state_ = State::kNameLength;
        need_ = 4;
        break;
      case State::kNameLength: {
        const uint64_t len = be(field);
        // A name of length 0 cannot start a file: the zeros are the padding.
        if (len == 0) {
          state_ = State::kPadding;
          need_ = 0;
          break;
        }
        if (len > 4096) return DataLoss("snapshot file name too long");
        state_ = State::kName;
        need_ = len;
        break;
      }
      case State::kName:
        if (field.find('/') != std::string::npos || field == "." || field == "..") {
          return DataLoss("snapshot file name not plain: " + field);
        }
        name_ = field;
        state_ = State::kSize;
        need_ = 8;
        break;
      case State::kSize:
        out_ = std::ofstream(std::filesystem::path(dir_) / name_, std::ios::binary);
        if (!out_) return Internal("cannot create " + name_);
        need_ = be(field);
        state_ = State::kContents;
        if (need_ == 0) {
          out_.close();
          state_ = State::kNameLength;
          need_ = 4;
        }
        break;
      case State::kContents:
      case State::kPadding: break;
    }
  }
  return Status::Ok();
}

Status SnapshotUnpacker::Finish() {
  if (seen_ != total_) return DataLoss("snapshot ended early");
  if (state_ != State::kPadding &&
      !(state_ == State::kNameLength && pending_.find_first_not_of('\0') == std::string::npos)) {
    return DataLoss("snapshot ended inside a file");
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(sha_, digest, &len);
  if (trailer_ != std::string_view(reinterpret_cast<const char*>(digest), len)) {
    return DataLoss("snapshot hash mismatch");
  }
  // Durable before anything refers to them.
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    int fd = ::open(entry.path().c_str(), O_RDONLY);
    if (fd < 0 || ::fsync(fd) != 0) {
      if (fd >= 0) ::close(fd);
      return Internal("cannot sync " + entry.path().string());
    }
    ::close(fd);
  }
  int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  return Status::Ok();
}

}  // namespace cairn::server
