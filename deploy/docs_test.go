package deploy

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func readOperations(t *testing.T) []byte {
	t.Helper()
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// fenced returns the bodies of the ```lang blocks of doc.
func fenced(doc []byte, lang string) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?ms)^```"+regexp.QuoteMeta(lang)+"\n(.*?)^```").FindAllSubmatch(doc, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// TestOperationsHCLSnippets parses every ```hcl block of docs/operations.md:
// each is valid HCL, every module.mailer.X it reads is an output of the
// module and every terraform_remote_state output an output of Phenom's root,
// and the lambda_config snippet wires a pool the way Cognito needs.
func TestOperationsHCLSnippets(t *testing.T) {
	outputsOf := func(dir string) map[string]bool {
		out := map[string]bool{}
		for _, o := range loadModule(t, dir).find("output") {
			out[o.Labels[0]] = true
		}
		return out
	}
	moduleOutputs, rootOutputs := outputsOf(moduleDir), outputsOf(exampleDir)

	snippets := fenced(readOperations(t), "hcl")
	if len(snippets) == 0 {
		t.Fatal("docs/operations.md has no ```hcl snippet")
	}
	var sawLambdaConfig bool
	for i, src := range snippets {
		f, diags := hclsyntax.ParseConfig([]byte(src), fmt.Sprintf("docs/operations.md, hcl snippet %d", i+1), hcl.Pos{Line: 1, Column: 1})
		if diags.HasErrors() {
			t.Errorf("%s", diags.Error())
			continue
		}
		body := f.Body.(*hclsyntax.Body)
		walkExprs(body, func(e hclsyntax.Expression) {
			for _, tr := range hclsyntax.Variables(e) {
				p := strings.Split(traversalName(tr), ".")
				switch {
				case p[0] == "module" && len(p) > 2 && p[1] == "mailer" && !moduleOutputs[p[2]]:
					t.Errorf("docs/operations.md reads module.mailer.%s, which the module does not output", p[2])
				case p[0] == "data" && len(p) > 4 && p[1] == "terraform_remote_state" && p[3] == "outputs" && !rootOutputs[p[4]]:
					t.Errorf("docs/operations.md reads the remote state's %s, which %s does not output", p[4], exampleDir)
				}
			}
		})
		for _, lc := range findBlocks(body, "lambda_config") {
			senders := nested(lc, "custom_email_sender")
			if len(senders) != 1 {
				continue
			}
			sawLambdaConfig = true
			if v := senders[0].Body.Attributes["lambda_version"]; v == nil || strings.Join(strs(v.Expr), "") != "V1_0" {
				t.Errorf("docs/operations.md: custom_email_sender without lambda_version = \"V1_0\"")
			}
			if _, ok := senders[0].Body.Attributes["lambda_arn"]; !ok {
				t.Errorf("docs/operations.md: custom_email_sender without lambda_arn")
			}
			if _, ok := lc.Body.Attributes["kms_key_id"]; !ok {
				t.Errorf("docs/operations.md: lambda_config without kms_key_id")
			}
			if _, ok := lc.Body.Attributes["custom_message"]; ok {
				t.Errorf("docs/operations.md: the wired pool keeps custom_message")
			}
		}
	}
	if !sawLambdaConfig {
		t.Errorf("docs/operations.md has no lambda_config { custom_email_sender { … } kms_key_id } snippet")
	}
}

// findBlocks returns every block of type typ at any depth in body.
func findBlocks(body *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range body.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
		out = append(out, findBlocks(b.Body, typ)...)
	}
	return out
}

var (
	slogKey      = regexp.MustCompile(`slog\.(?:String|Float64|Int|Int64|Bool|Any|Duration|Time|Group)\("([A-Za-z_]+)"`)
	insightsWord = regexp.MustCompile(`\b[A-Za-z_][A-Za-z0-9_]*\b`)
	insightsLit  = regexp.MustCompile(`"[^"]*"|/[^/\n]*/|@[A-Za-z]+`)
	insightsKeys = map[string]bool{
		"fields": true, "filter": true, "stats": true, "sort": true, "limit": true, "display": true,
		"parse": true, "dedup": true, "by": true, "as": true, "and": true, "or": true, "not": true,
		"in": true, "like": true, "asc": true, "desc": true, "count": true, "count_distinct": true,
		"latest": true, "earliest": true, "pct": true, "max": true, "min": true, "avg": true,
		"sum": true, "bin": true, "ispresent": true,
	}
)

// TestOperationsLogQueries checks that every field the Logs Insights
// queries of docs/operations.md name is one the mailer writes (a slog key
// in the handlers (Cognito's, the send service's) or main, or one of slog's
// own under Lambda's names).
func TestOperationsLogQueries(t *testing.T) {
	written := map[string]bool{"message": true, "level": true, "timestamp": true}
	for _, path := range []string{"../internal/cognito/handler.go", "../cmd/mailer/main.go", "../internal/cognito/record.go", "../internal/sesevents/sesevents.go", "../cmd/mailer/events.go", "../internal/service/handler.go"} {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range slogKey.FindAllStringSubmatch(string(src), -1) {
			written[m[1]] = true
		}
	}
	for _, f := range []string{"outcome", "reason", "trigger", "pool", "recipient", "message_id", "duration_ms", "requestId"} {
		if !written[f] {
			t.Fatalf("the mailer no longer logs %s: the pattern reading its slog keys is out of date, or the log line changed", f)
		}
	}
	queries := fenced(readOperations(t), "sql")
	if len(queries) < 4 {
		t.Fatalf("docs/operations.md has %d Logs Insights queries (```sql), want the playbook's", len(queries))
	}
	for i, q := range queries {
		aliases := map[string]bool{}
		for _, m := range regexp.MustCompile(`\bas\s+([A-Za-z_]\w*)`).FindAllStringSubmatch(q, -1) {
			aliases[m[1]] = true
		}
		for _, w := range insightsWord.FindAllString(insightsLit.ReplaceAllString(q, " "), -1) {
			if !insightsKeys[w] && !aliases[w] && !written[w] {
				t.Errorf("Logs Insights query %d names %q, which is not a field the mailer logs", i+1, w)
			}
		}
	}
}
