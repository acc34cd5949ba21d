// The errors etcd's clients match by gRPC code and exact text, one function each.
// Every layer returns these, so what a client sees is decided in one place.
#pragma once

#include "base/status.h"

namespace cairn::etcd {

inline Status EmptyKey() {
  return {Code::kInvalidArgument, "etcdserver: key is not provided"};
}
inline Status KeyNotFound() {
  return {Code::kInvalidArgument, "etcdserver: key not found"};
}
inline Status ValueProvided() {
  return {Code::kInvalidArgument, "etcdserver: value is provided"};
}
inline Status LeaseProvided() {
  return {Code::kInvalidArgument, "etcdserver: lease is provided"};
}
inline Status TooManyOps() {
  return {Code::kInvalidArgument, "etcdserver: too many operations in txn request"};
}
inline Status DuplicateKey() {
  return {Code::kInvalidArgument, "etcdserver: duplicate key given in txn request"};
}
inline Status Compacted() {
  return {Code::kOutOfRange, "etcdserver: mvcc: required revision has been compacted"};
}
inline Status FutureRev() {
  return {Code::kOutOfRange, "etcdserver: mvcc: required revision is a future revision"};
}
inline Status NoSpace() {
  return {Code::kResourceExhausted, "etcdserver: mvcc: database space exceeded"};
}
inline Status LeaseNotFound() {
  return {Code::kNotFound, "etcdserver: requested lease not found"};
}
inline Status LeaseExist() {
  return {Code::kFailedPrecondition, "etcdserver: lease already exists"};
}
inline Status LeaseTTLTooLarge() {
  return {Code::kOutOfRange, "etcdserver: too large lease TTL"};
}
inline Status WatchCanceled() {
  return {Code::kCancelled, "etcdserver: watch canceled"};
}
inline Status MemberExist() {
  return {Code::kFailedPrecondition, "etcdserver: member ID already exist"};
}
inline Status PeerURLExist() {
  return {Code::kFailedPrecondition, "etcdserver: Peer URLs already exists"};
}
inline Status MemberNotEnoughStarted() {
  return {Code::kFailedPrecondition,
          "etcdserver: re-configuration failed due to not enough started members"};
}
inline Status MemberBadURLs() {
  return {Code::kInvalidArgument, "etcdserver: given member URLs are invalid"};
}
inline Status MemberNotFound() {
  return {Code::kNotFound, "etcdserver: member not found"};
}
inline Status MemberNotLearner() {
  return {Code::kFailedPrecondition, "etcdserver: can only promote a learner member"};
}
inline Status LearnerNotReady() {
  return {Code::kFailedPrecondition,
          "etcdserver: can only promote a learner member which is in sync with leader"};
}
inline Status TooManyLearners() {
  return {Code::kFailedPrecondition, "etcdserver: too many learner members in cluster"};
}
inline Status ClusterIdMismatch() {
  return {Code::kFailedPrecondition, "etcdserver: cluster ID mismatch"};
}
inline Status RequestTooLarge() {
  return {Code::kInvalidArgument, "etcdserver: request is too large"};
}
inline Status RequestTooManyRequests() {
  return {Code::kResourceExhausted, "etcdserver: too many requests"};
}
inline Status RootUserNotExist() {
  return {Code::kFailedPrecondition, "etcdserver: root user does not exist"};
}
inline Status RootRoleNotExist() {
  return {Code::kFailedPrecondition, "etcdserver: root user does not have root role"};
}
inline Status UserAlreadyExist() {
  return {Code::kFailedPrecondition, "etcdserver: user name already exists"};
}
inline Status UserEmpty() {
  return {Code::kInvalidArgument, "etcdserver: user name is empty"};
}
inline Status UserNotFound() {
  return {Code::kFailedPrecondition, "etcdserver: user name not found"};
}
inline Status RoleAlreadyExist() {
  return {Code::kFailedPrecondition, "etcdserver: role name already exists"};
}
inline Status RoleNotFound() {
  return {Code::kFailedPrecondition, "etcdserver: role name not found"};
}
inline Status RoleEmpty() {
  return {Code::kInvalidArgument, "etcdserver: role name is empty"};
}
inline Status AuthFailed() {
  return {Code::kInvalidArgument, "etcdserver: authentication failed, invalid user ID or password"};
}
inline Status PermissionNotGiven() {
  return {Code::kInvalidArgument, "etcdserver: permission not given"};
}
inline Status PermissionDenied() {
  return {Code::kPermissionDenied, "etcdserver: permission denied"};
}
inline Status RoleNotGranted() {
  return {Code::kFailedPrecondition, "etcdserver: role is not granted to the user"};
}
inline Status PermissionNotGranted() {
  return {Code::kFailedPrecondition, "etcdserver: permission is not granted to the role"};
}
inline Status AuthNotEnabled() {
  return {Code::kFailedPrecondition, "etcdserver: authentication is not enabled"};
}
inline Status InvalidAuthToken() {
  return {Code::kUnauthenticated, "etcdserver: invalid auth token"};
}
inline Status InvalidAuthMgmt() {
  return {Code::kInvalidArgument, "etcdserver: invalid auth management"};
}
inline Status AuthOldRevision() {
  return {Code::kInvalidArgument, "etcdserver: revision of auth store is old"};
}
inline Status NoLeader() {
  return {Code::kUnavailable, "etcdserver: no leader"};
}
inline Status NotLeader() {
  return {Code::kFailedPrecondition, "etcdserver: not leader"};
}
inline Status LeaderChanged() {
  return {Code::kUnavailable, "etcdserver: leader changed"};
}
inline Status NotCapable() {
  return {Code::kUnavailable, "etcdserver: not capable"};
}
inline Status Stopped() {
  return {Code::kUnavailable, "etcdserver: server stopped"};
}
inline Status Timeout() {
  return {Code::kUnavailable, "etcdserver: request timed out"};
}
inline Status TimeoutDueToLeaderFail() {
  return {Code::kUnavailable,
          "etcdserver: request timed out, possibly due to previous leader failure"};
}
inline Status TimeoutDueToConnectionLost() {
  return {Code::kUnavailable, "etcdserver: request timed out, possibly due to connection lost"};
}
inline Status TimeoutWaitAppliedIndex() {
  return {Code::kUnavailable,
          "etcdserver: request timed out, waiting for the applied index took too long"};
}
inline Status TimeoutLeaderTransfer() {
  return {Code::kUnavailable, "etcdserver: request timed out, leader transfer took too long"};
}
inline Status Unhealthy() {
  return {Code::kUnavailable, "etcdserver: unhealthy cluster"};
}
inline Status Corrupt() {
  return {Code::kDataLoss, "etcdserver: corrupt cluster"};
}
inline Status NotSupportedForLearner() {
  return {Code::kUnavailable, "etcdserver: rpc not supported for learner"};
}
inline Status BadLeaderTransferee() {
  return {Code::kFailedPrecondition, "etcdserver: bad leader transferee"};
}
inline Status ClusterVersionUnavailable() {
  return {Code::kUnavailable, "etcdserver: cluster version not found during downgrade"};
}
inline Status WrongDowngradeVersionFormat() {
  return {Code::kInvalidArgument, "etcdserver: wrong downgrade target version format"};
}
inline Status InvalidDowngradeTargetVersion() {
  return {Code::kInvalidArgument, "etcdserver: invalid downgrade target version"};
}
inline Status DowngradeInProcess() {
  return {Code::kFailedPrecondition, "etcdserver: cluster has a downgrade job in progress"};
}
inline Status NoInflightDowngrade() {
  return {Code::kFailedPrecondition, "etcdserver: no inflight downgrade job"};
}
inline Status Canceled() {
  return {Code::kCancelled, "etcdserver: request canceled"};
}
inline Status DeadlineExceeded() {
  return {Code::kDeadlineExceeded, "etcdserver: context deadline exceeded"};
}

}  // namespace cairn::etcd
