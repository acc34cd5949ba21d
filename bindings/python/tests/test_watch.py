"""Watches: an iterator of events, or a callback per batch on the library's thread."""
import queue
import threading

import pytest

import cairn

TIMEOUT = 30.0  # seconds a test waits for an event before it fails; never a timing assert


def test_watch_iterates_puts_and_deletes_of_a_key(cairn_client):
    with cairn_client.watch(b"w") as w:
        cairn_client.put(b"w", b"1")
        cairn_client.delete(b"w")
        e1 = w.next_event(TIMEOUT)
        e2 = w.next_event(TIMEOUT)
    assert e1.type == cairn.Event.PUT and e1.is_put and e1.kv.value == b"1"
    assert e2.type == cairn.Event.DELETE and e2.kv.key == b"w"


def test_iteration_ends_when_the_watch_is_cancelled(cairn_client):
    w = cairn_client.watch(b"c", prefix=True)
    cairn_client.put(b"c/1", b"x")
    seen = []

    def consume():
        for event in w:
            seen.append(event.kv.key)
            w.cancel()

    t = threading.Thread(target=consume)
    t.start()
    t.join(TIMEOUT)
    assert not t.is_alive() and seen == [b"c/1"] and w.done and w.error is None


def test_watch_from_an_old_revision_replays_history_with_prev_kv(cairn_client):
    start = cairn_client.put(b"h", b"1").revision
    cairn_client.put(b"h", b"2")
    with cairn_client.watch(b"h", start_revision=start, prev_kv=True) as w:
        a = w.next_event(TIMEOUT)
        b = w.next_event(TIMEOUT)
    assert (a.kv.value, a.prev_kv) == (b"1", None)
    assert b.kv.value == b"2" and b.prev_kv.value == b"1"


def test_filters_drop_puts_or_deletes(cairn_client):
    with cairn_client.watch(b"f", no_put=True) as w:
        cairn_client.put(b"f", b"1")
        cairn_client.delete(b"f")
        assert w.next_event(TIMEOUT).is_delete


def test_a_compacted_start_revision_raises_compacted_error(cairn_client):
    old = cairn_client.put(b"k", b"1").revision
    now = cairn_client.put(b"k", b"2").revision
    cairn_client.put(b"k", b"3")
    cairn_client.compact(now)
    w = cairn_client.watch(b"k", start_revision=old)
    with pytest.raises(cairn.CompactedError) as e:
        w.next_response(TIMEOUT)
    assert e.value.compact_revision == now
    assert w.next_response(TIMEOUT) is None  # ended for good


def test_callback_runs_on_the_library_thread_with_each_batch(cairn_client):
    got: "queue.SimpleQueue" = queue.SimpleQueue()

    def on_batch(response):
        got.put((threading.get_ident(), [e.kv.value for e in response.events], response.revision))

    w = cairn_client.watch(b"cb", callback=on_batch)
    rev = cairn_client.put(b"cb", b"v").revision
    ident, values, revision = got.get(timeout=TIMEOUT)
    w.cancel()
    assert ident != threading.get_ident()
    assert values == [b"v"] and revision >= rev


def test_an_exception_in_the_callback_stops_the_watch_and_is_kept(cairn_client, monkeypatch):
    unraisable = []
    monkeypatch.setattr("sys.unraisablehook", unraisable.append)
    calls = []

    def on_batch(response):
        calls.append(response)
        raise ValueError("boom")

    w = cairn_client.watch(b"ex", callback=on_batch)
    cairn_client.put(b"ex", b"1")
    assert w.wait(TIMEOUT)
    cairn_client.put(b"ex", b"2")
    cairn_client.put(b"other", b"sync")  # a later write, after which no call may follow
    assert len(calls) == 1
    assert isinstance(w.error, ValueError)
    assert unraisable and isinstance(unraisable[0].exc_value, ValueError)
    w.cancel()


def test_progress_notification_is_a_response_without_events(cairn_client):
    rev = cairn_client.put(b"other", b"1").revision
    with cairn_client.watch(b"quiet") as w:
        w.request_progress()
        r = w.next_response(TIMEOUT)
    assert r.events == [] and r.is_progress_notify and r.revision >= rev


def test_watch_under_concurrent_writers_sees_every_put_once_in_revision_order(cairn_client):
    writers, per_writer = 4, 50
    with cairn_client.watch(b"cw/", prefix=True) as w:
        def write(n):
            for i in range(per_writer):
                cairn_client.put(f"cw/{n}/{i}", str(i))

        threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
        for t in threads:
            t.start()
        events = []
        while len(events) < writers * per_writer:
            events.append(w.next_event(TIMEOUT))
        for t in threads:
            t.join()
    revisions = [e.kv.mod_revision for e in events]
    assert revisions == sorted(revisions) and len(set(revisions)) == len(revisions)
    keys = {e.kv.key for e in events}
    assert keys == {f"cw/{n}/{i}".encode() for n in range(writers) for i in range(per_writer)}
    # Each writer's own puts arrive in the order it made them.
    for n in range(writers):
        mine = [int(e.kv.value) for e in events if e.kv.key.startswith(f"cw/{n}/".encode())]
        assert mine == list(range(per_writer))


def test_many_watchers_of_one_key_each_get_the_event(cairn_client):
    watches = [cairn_client.watch(b"fan") for _ in range(10)]
    cairn_client.put(b"fan", b"out")
    for w in watches:
        assert w.next_event(TIMEOUT).kv.value == b"out"
        w.cancel()


def test_a_network_watch_resumes_on_another_member_when_its_member_goes_away(cairn_cluster):
    with cairn_cluster.client() as c:
        w = c.watch(b"resume/", prefix=True)
        c.put(b"resume/1", b"a")
        first = w.next_event(timeout=TIMEOUT)
        assert first.kv.key == b"resume/1"
        # The member that answers this client is the one its watch stream is on.
        serving = c.status().header.member_id
        [gone] = [n for n in cairn_cluster.nodes if n.status().header.member_id == serving]
        others = [n for n in cairn_cluster.nodes if n is not gone]
        gone.close()
        with cairn.Client([u for n in others for u in n.client_urls]) as writer:
            for i in range(2, 5):
                writer.put(f"resume/{i}".encode(), b"b")
        # Every write after the last event seen arrives once, in order, from another member.
        keys = [w.next_event(timeout=TIMEOUT).kv.key for _ in range(3)]
        assert keys == [b"resume/2", b"resume/3", b"resume/4"]
        assert not w.done
        w.cancel()


def test_closing_the_client_ends_a_watch_that_is_resuming(tmp_path):
    node = cairn.Node(tmp_path / "n")
    c = cairn.Client(node.client_urls)
    w = c.watch(b"k")
    node.close()  # its only member is gone: the watch keeps trying to resume
    c.close()
    assert w.wait(TIMEOUT) and w.error is None
    assert w.next_event(timeout=TIMEOUT) is None
