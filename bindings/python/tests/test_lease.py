"""Leases: grant, keep-alive run by the library, time-to-live, revoke, and expiry."""
import time

import pytest

import cairn

TIMEOUT = 30.0


def test_lease_as_a_context_manager_is_revoked_with_its_keys_on_exit(cairn_client):
    with cairn_client.lease(30) as lease:
        cairn_client.put(b"l/1", b"a", lease=lease)
        cairn_client.put(b"l/2", b"b", lease=lease.id)
        assert cairn_client.get(b"l/1").lease == lease.id
        assert sorted(lease.keys()) == [b"l/1", b"l/2"]
        info = lease.time_to_live()
        assert info.granted_ttl == 30 and 0 < info.ttl <= 30
        assert lease.id in cairn_client.leases()
    assert cairn_client.get(b"l/1") is None and cairn_client.get(b"l/2") is None
    assert cairn_client.lease_time_to_live(lease.id).ttl == -1
    assert lease.id not in cairn_client.leases()


def test_a_lease_chosen_by_id(cairn_client):
    with cairn_client.lease(20, lease_id=0x1234) as lease:
        assert lease.id == 0x1234
        with pytest.raises(cairn.LeaseExistsError):
            cairn_client.lease(20, lease_id=0x1234)


def test_revoking_a_missing_lease_is_lease_not_found(cairn_client):
    with pytest.raises(cairn.LeaseNotFoundError) as e:
        cairn_client.lease_revoke(987654321)
    assert e.value.message == "etcdserver: requested lease not found"
    assert isinstance(e.value, cairn.NotFound)


def test_put_with_a_missing_lease_is_lease_not_found(cairn_client):
    with pytest.raises(cairn.LeaseNotFoundError):
        cairn_client.put(b"k", b"v", lease=424242)


def _wait_until_gone(client, key, limit):
    deadline = time.monotonic() + limit
    while client.get(key) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_lease_left_to_expire_takes_its_keys_with_it(cairn_client):
    lease = cairn_client.lease(2, keepalive=False)
    cairn_client.put(b"exp", b"soon", lease=lease)
    assert cairn_client.get(b"exp") is not None
    assert _wait_until_gone(cairn_client, b"exp", TIMEOUT)
    assert cairn_client.lease_time_to_live(lease.id).ttl == -1


def test_keepalive_keeps_a_short_lease_alive_past_its_ttl(cairn_client):
    with cairn_client.lease(2) as lease:
        cairn_client.put(b"kept", b"alive", lease=lease)
        time.sleep(5)  # more than twice the TTL; keep-alive renews every third of it
        assert cairn_client.get(b"kept") is not None
        lease.stop_keepalive()
        assert _wait_until_gone(cairn_client, b"kept", TIMEOUT)
