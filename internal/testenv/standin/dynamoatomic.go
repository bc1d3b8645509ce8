package standin

import (
	"net/http"
	"strings"
	"sync"
)

// DynamoDB evaluates a write's condition and applies the write as one
// atomic step: "conditional writes are idempotent ... DynamoDB performs
// the write only if the condition is met" (DynamoDB Developer Guide,
// "Condition expressions"), and of two concurrent conditional PutItems on
// one key exactly one succeeds. moto_server handles requests on threads and
// checks the condition and writes the item as two steps, so under load two
// concurrent claims of one idempotency key could both succeed there (seen:
// 2 winners out of 20). The proxy therefore runs DynamoDB's single-item
// and transactional writes one at a time, which makes each atomic, as
// DynamoDB's are.
type dynamoWrites struct{ mu sync.Mutex }

// dynamoWriteOps are the operations whose condition and write must be one
// step.
var dynamoWriteOps = map[string]bool{
	"PutItem": true, "UpdateItem": true, "DeleteItem": true,
	"BatchWriteItem": true, "TransactWriteItems": true,
}

// serialize runs next alone when r is a DynamoDB write, and directly
// otherwise.
func (d *dynamoWrites) serialize(w http.ResponseWriter, r *http.Request, next http.Handler) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "DynamoDB_20120810.")
	if !ok || !dynamoWriteOps[op] {
		next.ServeHTTP(w, r)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	next.ServeHTTP(w, r)
}
