package receivers

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SpamThreshold: every mail must score below it. SpamAssassin's default
// spam threshold is 5.0, and receivers add their own scores on top (an
// untrained Bayes, DNS block lists, reputation): account mail keeps a wide
// margin.
const SpamThreshold = 1.5

//go:embed spamassassin.pl
var spamassassinPL string

// SpamRule is one SpamAssassin rule that fired, with its score.
type SpamRule struct {
	Name  string
	Score float64
}

// SpamResult is SpamAssassin's verdict on one mail.
type SpamResult struct {
	Score float64
	Rules []SpamRule // the rules that fired, highest score first
}

// OK reports whether the score is below SpamThreshold.
func (r SpamResult) OK() bool { return r.Score < SpamThreshold }

// Summary lists the rules that fired with their scores: "GB_CUSTOM_HTM_URI
// 1.0, HTML_MESSAGE 0.0".
func (r SpamResult) Summary() string {
	var parts []string
	for _, rule := range r.Rules {
		parts = append(parts, fmt.Sprintf("%s %.1f", rule.Name, rule.Score))
	}
	if len(parts) == 0 {
		return "no rule fired"
	}
	return strings.Join(parts, ", ")
}

// SpamAssassin scores mails with Debian's spamassassin (Mail::SpamAssassin)
// using its local tests only, as `spamassassin -L` does: no DNS, no network
// rules, no Bayes, no user state (a throwaway folder).
type SpamAssassin struct {
	// Perl is the perl binary; "perl" on PATH when empty.
	Perl string
}

// SESReceived is the Received header a receiving MX adds to a mail that
// SES delivers, for the time at. Mail always arrives with one, and
// SpamAssassin scores a mail without any (NO_RECEIVED, NO_RELAYS), so the
// score is taken as a receiver would see it.
// to is the envelope recipient ("" leaves the for clause out).
func SESReceived(to string, at time.Time) string {
	h := "Received: from a8-30.smtp-out.amazonses.com (a8-30.smtp-out.amazonses.com [54.240.8.30])\r\n" +
		"\tby mx.example.net (Postfix) with ESMTPS id 4ZkQ3r1xYcz9sWq\r\n\t"
	if to != "" && !strings.ContainsAny(to, "\r\n<>") {
		h += "for <" + to + ">; "
	}
	return h + at.UTC().Format(time.RFC1123Z) + "\r\n"
}

// AsReceived returns raw with the SES Received header in front, for its
// To address, dated two seconds after its Date (now when it has none).
func AsReceived(raw []byte) []byte {
	at, to := time.Now(), ""
	if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		if d, err := msg.Header.Date(); err == nil {
			at = d.Add(2 * time.Second)
		}
		if a, err := mail.ParseAddress(msg.Header.Get("To")); err == nil {
			to = a.Address
		}
	}
	return append([]byte(SESReceived(to, at)), raw...)
}

// Score scores every mail, each as received from SES (AsReceived), in one
// SpamAssassin process. The results are in the order of mails. A missing
// perl or Mail::SpamAssassin is a *MissingError.
func (sa SpamAssassin) Score(ctx context.Context, mails [][]byte) ([]SpamResult, error) {
	perl := sa.Perl
	if perl == "" {
		perl = "perl"
	}
	missing := &MissingError{Tool: "spamassassin", Fix: "apt-get install spamassassin, or make deps"}
	if _, err := exec.LookPath(perl); err != nil {
		return nil, missing
	}
	dir, err := os.MkdirTemp("", "mailer-spamassassin-")
	if err != nil {
		return nil, fmt.Errorf("spamassassin: %w", err)
	}
	defer os.RemoveAll(dir)
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		return nil, fmt.Errorf("spamassassin: %w", err)
	}
	names, err := writeMails(dir, mails, AsReceived)
	if err != nil {
		return nil, fmt.Errorf("spamassassin: %w", err)
	}
	cmd := exec.CommandContext(ctx, perl, append([]string{"-e", spamassassinPL, state}, names...)...)
	// The tool inherits this process's environment, with a HOME of its own.
	cmd.Env = append(cmd.Environ(), "HOME="+state)
	stdout, err := runJudge(cmd, "spamassassin", missing)
	if err != nil {
		return nil, err
	}
	out := make([]SpamResult, len(mails))
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			continue
		}
		i, err1 := strconv.Atoi(f[0])
		score, err2 := strconv.ParseFloat(f[1], 64)
		if err1 != nil || err2 != nil || i < 0 || i >= len(mails) {
			return nil, fmt.Errorf("spamassassin: unexpected output line %q", sc.Text())
		}
		r := SpamResult{Score: score}
		for _, hit := range strings.Split(f[2], ",") {
			name, s, ok := strings.Cut(hit, "=")
			if !ok {
				continue
			}
			v, _ := strconv.ParseFloat(s, 64)
			r.Rules = append(r.Rules, SpamRule{Name: name, Score: v})
		}
		sort.SliceStable(r.Rules, func(a, b int) bool {
			if r.Rules[a].Score != r.Rules[b].Score {
				return r.Rules[a].Score > r.Rules[b].Score
			}
			return r.Rules[a].Name < r.Rules[b].Name
		})
		out[i] = r
		seen++
	}
	if seen != len(mails) {
		return nil, fmt.Errorf("spamassassin: scored %d of %d mails", seen, len(mails))
	}
	return out, nil
}

// lastLine is the last non-empty line of a tool's error output.
