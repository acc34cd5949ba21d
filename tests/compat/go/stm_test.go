// The concurrency package's STM (software transactional memory over KV and Txn) against cairnd.
package compat

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Concurrent transfers between accounts under each isolation level that detects conflicts:
// the total is conserved and every transfer is applied exactly once.
func TestSTMTransfersConserveTheTotal(t *testing.T) {
	t.Parallel()
	cli := startCairnd(t).Client
	const accounts, workers, transfersEach, initial = 4, 4, 10, 100
	levels := []struct {
		name string
		iso  concurrency.Isolation
	}{
		{"serializable snapshot", concurrency.SerializableSnapshot},
		{"serializable", concurrency.Serializable},
		{"repeatable reads", concurrency.RepeatableReads},
	}
	for _, level := range levels {
		t.Run(level.name, func(t *testing.T) {
			prefix := "/bank/" + level.name + "/"
			account := func(i int) string { return fmt.Sprintf("%s%d", prefix, i) }
			for i := 0; i < accounts; i++ {
				if _, err := cli.Put(ctx(t), account(i), strconv.Itoa(initial)); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			errs := make(chan error, workers*transfersEach)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for n := 0; n < transfersEach; n++ {
						from, to := account((w+n)%accounts), account((w+n+1)%accounts)
						_, err := concurrency.NewSTM(cli, func(stm concurrency.STM) error {
							a, _ := strconv.Atoi(stm.Get(from))
							b, _ := strconv.Atoi(stm.Get(to))
							stm.Put(from, strconv.Itoa(a-1))
							stm.Put(to, strconv.Itoa(b+1))
							stm.Put(prefix+"count", strconv.Itoa(atoi(stm.Get(prefix+"count"))+1))
							return nil
						}, concurrency.WithIsolation(level.iso), concurrency.WithAbortContext(ctx(t)))
						if err != nil {
							errs <- err
						}
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("stm: %v", err)
			}
			resp, err := cli.Get(ctx(t), prefix, clientv3.WithPrefix())
			if err != nil {
				t.Fatal(err)
			}
			total, count := 0, 0
			for _, kv := range resp.Kvs {
				if string(kv.Key) == prefix+"count" {
					count = atoi(string(kv.Value))
				} else {
					total += atoi(string(kv.Value))
				}
			}
			if total != accounts*initial || count != workers*transfersEach {
				t.Errorf("total %d count %d, want %d %d", total, count, accounts*initial, workers*transfersEach)
			}
		})
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
