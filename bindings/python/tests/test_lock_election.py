"""Locks and elections (etcd's v3lock and v3election) as context managers."""
import os
import signal
import threading
import time

import pytest

import cairn

TIMEOUT = 30.0


def test_a_lock_held_by_one_thread_blocks_another_until_released(cairn_node):
    order = []
    holding = threading.Event()
    release = threading.Event()

    def holder():
        with cairn_node.client() as c, c.lock(b"res"):
            order.append("a acquired")
            holding.set()
            release.wait(TIMEOUT)
            order.append("a releases")

    def waiter():
        holding.wait(TIMEOUT)
        with cairn_node.client() as c, c.lock(b"res"):
            order.append("b acquired")

    a = threading.Thread(target=holder)
    b = threading.Thread(target=waiter)
    a.start()
    b.start()
    assert holding.wait(TIMEOUT)
    # b is blocked inside the lock call, with the GIL released: this thread keeps running.
    spins = 0
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        spins += 1
    assert b.is_alive() and order == ["a acquired"] and spins > 1000
    release.set()
    a.join(TIMEOUT)
    b.join(TIMEOUT)
    assert order == ["a acquired", "a releases", "b acquired"]


def test_acquire_with_a_timeout_gives_up_while_the_lock_is_held(cairn_client):
    with cairn_client.lock(b"busy") as held:
        assert held.locked and held.key.startswith(b"busy/")
        other = cairn_client.lock(b"busy")
        assert other.acquire(timeout=0.5) is False
        assert not other.locked
    other = cairn_client.lock(b"busy")
    assert other.acquire(timeout=TIMEOUT) is True
    other.release()


def test_the_lock_key_lives_under_the_lock_name_while_held(cairn_client):
    with cairn_client.lock("named") as lock:
        key = lock.key
        kv = cairn_client.get(key)
        assert kv is not None and kv.lease != 0
    assert cairn_client.get(key) is None and lock.key is None


def test_election_campaign_leader_proclaim_resign(cairn_client):
    e = cairn_client.election(b"ldr")
    assert e.leader() is None
    assert e.campaign(b"first")
    assert e.is_leader and e.leader().value == b"first"
    e.proclaim(b"second")
    assert e.leader().value == b"second"
    e.resign()
    assert e.leader() is None and not e.is_leader


def test_a_second_candidate_waits_and_leads_after_the_first_resigns(cairn_node):
    with cairn_node.client() as c1, cairn_node.client() as c2:
        with c1.election(b"job", value=b"one") as first:
            assert first.is_leader
            second = c2.election(b"job")
            assert second.campaign(b"two", timeout=0.5) is False
            got = []
            t = threading.Thread(target=lambda: got.append(second.campaign(b"two")))
            t.start()
        t.join(TIMEOUT)
        assert got == [True] and second.leader().value == b"two"
        second.resign()


def test_observe_yields_each_leader(cairn_client):
    e = cairn_client.election(b"obs")
    with e.observe() as leaders:
        e.campaign(b"v1")
        assert leaders.get(TIMEOUT).value == b"v1"
        e.proclaim(b"v2")
        assert leaders.get(TIMEOUT).value == b"v2"
    e.resign()


def test_proclaim_without_leading_is_refused(cairn_client):
    with pytest.raises(RuntimeError):
        cairn_client.election(b"none").proclaim(b"x")


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt during the test, as in an interactive Python: a
    process started in the background by a non-interactive shell (as CI may be) inherits
    SIGINT ignored, and Python then leaves it ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _interrupt_once_waiting(admin, prefix, release_holder):
    """A thread that sends this process SIGINT (Ctrl-C) once two keys exist under `prefix`:
    the holder's and the waiter's, which the waiter's call creates from inside the library.
    Should the interrupt not end the wait, it frees the holder after TIMEOUT, so that a broken
    build fails the test (gave_up is set) rather than hangs."""
    interrupted = threading.Event()
    gave_up = threading.Event()

    def run():
        deadline = time.monotonic() + TIMEOUT
        while admin.range(prefix, prefix=True, count_only=True).count < 2:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)
        if not interrupted.wait(TIMEOUT):
            gave_up.set()
            release_holder()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return interrupted, gave_up


@pytest.mark.parametrize("path", ["in-process", "network"])
def test_ctrl_c_interrupts_a_lock_that_waits_without_a_timeout(cairn_node, path, ctrl_c_raises):
    with cairn_node.client() as admin, \
            (cairn_node.client() if path == "in-process" else cairn.Client(cairn_node.client_urls)) as c:
        holder = admin.lock(b"ctrl-c")
        holder.acquire()
        interrupted, gave_up = _interrupt_once_waiting(admin, b"ctrl-c/", holder.release)
        waiter = c.lock(b"ctrl-c")
        with pytest.raises(KeyboardInterrupt):
            waiter.acquire()
        interrupted.set()
        assert not gave_up.is_set(), "Ctrl-C did not interrupt the lock while it was held"
        assert not waiter.locked
        # The interrupted waiter left nothing behind: only the holder's key is there, and the
        # lock goes to the next waiter once released.
        assert admin.range(b"ctrl-c/", prefix=True, count_only=True).count == 1
        holder.release()
        again = c.lock(b"ctrl-c")
        assert again.acquire(timeout=TIMEOUT) is True
        again.release()


def test_ctrl_c_interrupts_a_campaign_that_waits_without_a_timeout(cairn_client, ctrl_c_raises):
    leader = cairn_client.election(b"ctrl-c-e")
    assert leader.campaign(b"first", timeout=TIMEOUT)
    interrupted, gave_up = _interrupt_once_waiting(cairn_client, b"ctrl-c-e/", leader.resign)
    other = cairn_client.election(b"ctrl-c-e")
    with pytest.raises(KeyboardInterrupt):
        other.campaign(b"second")
    interrupted.set()
    assert not gave_up.is_set(), "Ctrl-C did not interrupt the campaign while it was led"
    assert not other.is_leader
    assert cairn_client.range(b"ctrl-c-e/", prefix=True, count_only=True).count == 1
    assert cairn_client.election(b"ctrl-c-e").leader().value == b"first"
    leader.resign()
