package preview

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/Phenom-earth/phenom-mailer/internal/receivers"
)

// Names of the receivers' verdicts, in the order they are shown.
const (
	VerdictSpam    = "SpamAssassin score under 1.5"
	VerdictDKIM    = "DKIM verified by dkimpy"
	VerdictClients = "Gmail, Outlook, Apple Mail and Yahoo support it"
)

// Verdict is what an independent tool, judging as a receiver would, says
// of one mail. A verdict whose tool is missing is not Checked: it neither
// passes nor fails, and Detail says "not checked: <tool> missing".
type Verdict struct {
	Name    string
	Checked bool
	OK      bool
	Detail  string   // the score, the verdict, or what fails
	Items   []string // rules that fired, client issues and accepted exceptions
}

// Failed reports whether the verdict was reached and is a failure.
func (v Verdict) Failed() bool { return v.Checked && !v.OK }

// Judges are the receivers' tools the preview runs over every mail.
type Judges struct {
	Spam    receivers.SpamAssassin
	Clients receivers.ClientSupport
	DKIM    receivers.DKIMPy
	// Signing, when the mails are DKIM-signed (the sender's DKIM options),
	// publishes its public key to dkimpy; nil leaves the DKIM verdict out.
	Signing *dkim.SignOptions
}

// Judge runs every judge over mails and sets each mail's Receivers. A
// missing tool gives "not checked" verdicts, not an error; an error is a
// tool that ran and failed.
func Judge(ctx context.Context, mails []Mail, j Judges) error {
	emls := make([][]byte, len(mails))
	htmls := make([]string, len(mails))
	for i, m := range mails {
		emls[i], htmls[i] = m.EML, m.Message.HTML
		mails[i].Receivers = nil
	}
	add := func(i int, v Verdict) { mails[i].Receivers = append(mails[i].Receivers, v) }
	notChecked := func(name string, err error) (bool, error) {
		if miss, ok := receivers.IsMissing(err); ok {
			for i := range mails {
				add(i, Verdict{Name: name, Detail: "not checked: " + miss.Tool + " missing (" + miss.Fix + ")"})
			}
			return true, nil
		}
		return false, err
	}

	spam, err := j.Spam.Score(ctx, emls)
	if skip, err := notChecked(VerdictSpam, err); err != nil {
		return fmt.Errorf("preview: %w", err)
	} else if !skip {
		for i, r := range spam {
			v := Verdict{Name: VerdictSpam, Checked: true, OK: r.OK(), Detail: fmt.Sprintf("score %.1f: %s", r.Score, r.Summary())}
			for _, rule := range r.Rules {
				v.Items = append(v.Items, fmt.Sprintf("%s %.1f", rule.Name, rule.Score))
			}
			add(i, v)
		}
	}

	if j.Signing != nil {
		txt, err := receivers.TXTRecord(j.Signing.Signer.Public())
		if err != nil {
			return fmt.Errorf("preview: %w", err)
		}
		keys := map[string]string{j.Signing.Selector + "._domainkey." + j.Signing.Domain: txt}
		res, err := j.DKIM.Verify(ctx, emls, keys)
		if skip, err := notChecked(VerdictDKIM, err); err != nil {
			return fmt.Errorf("preview: %w", err)
		} else if !skip {
			for i, r := range res {
				v := Verdict{Name: VerdictDKIM, Checked: true, OK: r.Pass}
				if r.Pass {
					v.Detail = fmt.Sprintf("pass: d=%s s=%s", r.Domain, r.Selector)
				} else {
					v.Detail = "fail: " + r.Reason
				}
				add(i, v)
			}
		}
	}

	reports, err := j.Clients.Report(ctx, htmls)
	if skip, err := notChecked(VerdictClients, err); err != nil {
		return fmt.Errorf("preview: %w", err)
	} else if !skip {
		for i, issues := range reports {
			add(i, clientVerdict(issues))
		}
	}
	return nil
}

// clientVerdict holds a mail's client-support report to the accepted gaps
// (ClientGaps): an unsupported feature fails unless it is accepted for
// its family.
func clientVerdict(issues []receivers.ClientIssue) Verdict {
	type key struct{ feature, family string }
	unsupported := map[key][]string{}
	partial := 0
	for _, is := range issues {
		if is.Level != "unsupported" {
			partial++
			continue
		}
		k := key{is.Feature, is.Family()}
		unsupported[k] = append(unsupported[k], is.Client)
	}
	keys := make([]key, 0, len(unsupported))
	for k := range unsupported {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		if keys[a].feature != keys[b].feature {
			return keys[a].feature < keys[b].feature
		}
		return keys[a].family < keys[b].family
	})
	v := Verdict{Name: VerdictClients, Checked: true, OK: true}
	var bad, accepted []string
	for _, k := range keys {
		clients := strings.Join(unsupported[k], ", ")
		if gap, ok := acceptedGap(k.feature, k.family); ok {
			accepted = append(accepted, fmt.Sprintf("accepted: %s in %s: %s", k.feature, clients, gap.Reason))
			continue
		}
		v.OK = false
		bad = append(bad, fmt.Sprintf("%s is not supported by %s, and nothing stands in for it", k.feature, clients))
	}
	if v.OK {
		v.Detail = fmt.Sprintf("no unsupported feature without a fallback (%d accepted gaps, %d partly supported)", len(accepted), partial)
	} else {
		v.Detail = strings.Join(bad, "; ")
	}
	v.Items = append(bad, accepted...)
	return v
}
