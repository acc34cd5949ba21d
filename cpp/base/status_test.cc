// Status, Result and the etcd error table behave as every layer relies on.
#include "base/status.h"

#include <gtest/gtest.h>

#include "base/etcd_errors.h"

namespace cairn {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  CAIRN_ASSIGN_OR_RETURN(int h, Half(x));
  CAIRN_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  CAIRN_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(StatusTest, DefaultIsOkAndPrintsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s = OutOfRange("too far");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kOutOfRange);
  EXPECT_EQ(s.ToString(), "OUT_OF_RANGE: too far");
}

TEST(ResultTest, AssignOrReturnPropagatesTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);  // 6 -> 3 -> odd
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status(), InvalidArgument("odd"));
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_FALSE(CheckEven(5).ok());
}

TEST(EtcdErrorsTest, CodesAndTextsAreEtcds) {
  EXPECT_EQ(etcd::Compacted(),
            Status(Code::kOutOfRange, "etcdserver: mvcc: required revision has been compacted"));
  EXPECT_EQ(etcd::LeaseNotFound().code(), Code::kNotFound);
  EXPECT_EQ(etcd::DuplicateKey().message(), "etcdserver: duplicate key given in txn request");
  EXPECT_EQ(etcd::NoLeader().code(), Code::kUnavailable);
  EXPECT_EQ(etcd::Canceled().code(), Code::kCancelled);
}

}  // namespace
}  // namespace cairn
