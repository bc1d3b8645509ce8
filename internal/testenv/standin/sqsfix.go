package standin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// sqsJSONRequest reports whether r is an SQS call in the JSON protocol
// (X-Amz-Target: AmazonSQS.<Operation>), the one the AWS SDKs use today.
func sqsJSONRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
}

// fixSQSResponse corrects moto 5.2.1's GetQueueAttributes answer: moto
// writes a queue's RedrivePolicy with Python's spaced JSON
// ({"deadLetterTargetArn": "...", "maxReceiveCount": 5}) where SQS answers
// the compact form; an engine comparing the policy it set with the one it
// reads back would see a change on every plan. The policy is compacted.
func fixSQSResponse(resp *http.Response) error {
	if resp.StatusCode != http.StatusOK || resp.Request.Header.Get("X-Amz-Target") != "AmazonSQS.GetQueueAttributes" {
		return nil
	}
	return rewriteJSON(resp, func(doc map[string]any) {
		attrs, ok := doc["Attributes"].(map[string]any)
		if !ok {
			return
		}
		for _, name := range []string{"RedrivePolicy", "RedriveAllowPolicy"} {
			s, ok := attrs[name].(string)
			if !ok {
				continue
			}
			var buf bytes.Buffer
			if json.Compact(&buf, []byte(s)) == nil {
				attrs[name] = buf.String()
			}
		}
	})
}
