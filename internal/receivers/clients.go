package receivers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// ClientFamilies are the mail client families the client-support report
// covers, as caniemail.com names them: every client of each family
// (desktop, webmail, iOS, Android) is checked.
var ClientFamilies = []string{"gmail", "outlook", "apple-mail", "yahoo"}

// ClientIssue is one feature of a mail's inline CSS or HTML that one
// client does not support, or supports only partly.
type ClientIssue struct {
	Feature string `json:"feature"` // caniemail's name: "border-radius", "<body> element"
	Client  string `json:"client"`  // "outlook.windows"
	Level   string `json:"level"`   // "unsupported" or "partial"
}

// Family is the client's family: "outlook" for "outlook.windows".
func (i ClientIssue) Family() string {
	f, _, _ := strings.Cut(i.Client, ".")
	return f
}

// ClientSupport reports which inline CSS properties and HTML elements and
// attributes of a mail each client of ClientFamilies does not support,
// from caniemail.com's data through @jsx-email/doiuse-email
// (scripts/clientsupport.mjs). The <style> blocks are not judged: they hold
// the responsive and dark rules, which clients that drop them do without.
type ClientSupport struct {
	// Node is the node binary; "node" on PATH when empty.
	Node string
	// Root is the repository folder holding scripts/clientsupport.mjs and
	// node_modules (npm ci).
	Root string
}

// Report returns, for each HTML document, its issues sorted by feature
// and client. A missing node, script or package is a *MissingError.
func (c ClientSupport) Report(ctx context.Context, htmls []string) ([][]ClientIssue, error) {
	node := c.Node
	if node == "" {
		node = "node"
	}
	missing := &MissingError{Tool: "@jsx-email/doiuse-email", Fix: "npm ci, or make deps, in the repository"}
	if _, err := exec.LookPath(node); err != nil {
		return nil, &MissingError{Tool: "node", Fix: "install Node.js 18 or later"}
	}
	script := filepath.Join(c.Root, "scripts", "clientsupport.mjs")
	if _, err := os.Stat(script); err != nil {
		return nil, &MissingError{Tool: "scripts/clientsupport.mjs", Fix: "run from the repository's root folder"}
	}
	var clients []string
	for _, f := range ClientFamilies {
		clients = append(clients, f+".*")
	}
	in, err := json.Marshal(map[string]any{"clients": clients, "mails": htmls})
	if err != nil {
		return nil, fmt.Errorf("client support: %w", err)
	}
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Stdin = bytes.NewReader(in)
	stdout, err := runJudge(cmd, "client support", missing)
	if err != nil {
		return nil, err
	}
	var out [][]ClientIssue
	if err := json.Unmarshal(stdout, &out); err != nil {
		return nil, fmt.Errorf("client support: unexpected output: %w", err)
	}
	if len(out) != len(htmls) {
		return nil, fmt.Errorf("client support: %d reports for %d mails", len(out), len(htmls))
	}
	for _, issues := range out {
		sort.Slice(issues, func(a, b int) bool {
			if issues[a].Feature != issues[b].Feature {
				return issues[a].Feature < issues[b].Feature
			}
			return issues[a].Client < issues[b].Client
		})
	}
	return out, nil
}
