// The generated C++ of proto/etcd serves the paths etcd's clients call, and encodes
// messages the way etcd does on the wire.
#include <gtest/gtest.h>

#include <string>

#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "etcd/v3electionpb/v3election.grpc.pb.h"
#include "etcd/v3lockpb/v3lock.grpc.pb.h"

namespace {

TEST(ProtoTest, ServicesHaveEtcdsFullNames) {
  EXPECT_STREQ(etcdserverpb::KV::service_full_name(), "etcdserverpb.KV");
  EXPECT_STREQ(etcdserverpb::Watch::service_full_name(), "etcdserverpb.Watch");
  EXPECT_STREQ(etcdserverpb::Lease::service_full_name(), "etcdserverpb.Lease");
  EXPECT_STREQ(etcdserverpb::Cluster::service_full_name(), "etcdserverpb.Cluster");
  EXPECT_STREQ(etcdserverpb::Maintenance::service_full_name(), "etcdserverpb.Maintenance");
  EXPECT_STREQ(etcdserverpb::Auth::service_full_name(), "etcdserverpb.Auth");
  EXPECT_STREQ(v3lockpb::Lock::service_full_name(), "v3lockpb.Lock");
  EXPECT_STREQ(v3electionpb::Election::service_full_name(), "v3electionpb.Election");
}

TEST(ProtoTest, PutRequestEncodesWithEtcdsFieldNumbers) {
  etcdserverpb::PutRequest put;
  put.set_key("k");
  put.set_value("v");
  put.set_lease(7);
  put.set_prev_kv(true);
  // key=1 (bytes), value=2 (bytes), lease=3 (varint), prev_kv=4 (varint)
  const std::string want("\x0a\x01k\x12\x01v\x18\x07\x20\x01", 10);
  EXPECT_EQ(put.SerializeAsString(), want);
}

TEST(ProtoTest, CompareRangeEndUsesFieldSixtyFour) {
  etcdserverpb::Compare cmp;
  cmp.set_range_end("z");
  // Field 64, wire type 2: tag varint 64 << 3 | 2 = 514 = 0x82 0x04.
  EXPECT_EQ(cmp.SerializeAsString(), std::string("\x82\x04\x01z", 4));
}

}  // namespace
