"""The error hierarchy: every error is a cairn.Error; etcd's own errors sit under the gRPC code
etcd sends them with."""
import cairn


def test_every_code_of_the_c_abi_maps_to_a_class():
    codes = cairn._native.error_codes()
    assert codes["ECOMPACTED"] and codes["ELEASENOTFOUND"]
    for name in codes:
        assert name in cairn._errors._BY_NAME, name


def test_hierarchy():
    assert issubclass(cairn.CompactedError, cairn.OutOfRange)
    assert issubclass(cairn.FutureRevisionError, cairn.OutOfRange)
    assert issubclass(cairn.LeaseNotFoundError, cairn.NotFound)
    assert issubclass(cairn.NoLeaderError, cairn.Unavailable)
    assert issubclass(cairn.StoppedError, cairn.Unavailable)
    assert issubclass(cairn.DeadlineExceeded, TimeoutError)
    for name in cairn.__all__:
        obj = getattr(cairn, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, cairn.Error), name


def test_a_raised_error_carries_code_message_and_retryable(cairn_client):
    try:
        cairn_client.lease_revoke(5)
    except cairn.Error as e:
        assert e.code == cairn._native.error_codes()["ELEASENOTFOUND"]
        assert e.grpc_code == 5  # NotFound
        assert e.message == str(e) == "etcdserver: requested lease not found"
        assert e.retryable is False
    else:
        raise AssertionError("revoking a missing lease succeeded")
