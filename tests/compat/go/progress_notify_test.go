// Watch progress notifications on the interval --experimental-watch-progress-notify-interval sets.
package compat

import (
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// With --experimental-watch-progress-notify-interval, a watcher that asked for progress
// notifications gets them while nothing is written.
func TestWatchProgressNotifyInterval(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t, "--experimental-watch-progress-notify-interval=500ms").Client
	seed(t, cli)
	ch := cli.Watch(watchCtx(t), "nothing-here", clientv3.WithProgressNotify())
	for {
		select {
		case resp, ok := <-ch:
			if !ok {
				t.Fatal("watch closed")
			}
			if resp.IsProgressNotify() {
				if resp.Header.Revision != 8 {
					t.Errorf("progress at revision %d, want 8", resp.Header.Revision)
				}
				return
			}
		case <-time.After(watchWait):
			t.Fatal("no progress notification")
		}
	}
}
