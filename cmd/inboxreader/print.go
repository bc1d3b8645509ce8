package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/Phenom-earth/phenom-mailer/internal/inbox"
	"github.com/Phenom-earth/phenom-mailer/internal/reset"
)

// printer writes either the human progress (stages as they happen) or, with
// --json, one JSON report at the end.
type printer struct {
	w      io.Writer
	asJSON bool
}

func newPrinter(w io.Writer, asJSON bool) *printer { return &printer{w: w, asJSON: asJSON} }

func (p *printer) line(label, text string) {
	if !p.asJSON {
		fmt.Fprintf(p.w, "%-9s %s\n", label, text)
	}
}

func (p *printer) stage(s reset.Stage) {
	if p.asJSON {
		return
	}
	mark := "ok  "
	if !s.OK {
		mark = "FAIL"
	}
	fmt.Fprintf(p.w, "%s %-24s %9.1f ms  %s\n", mark, s.Name, s.DurationMS, s.Detail)
}

func (p *printer) verdict(v *inbox.Verdict) {
	if p.asJSON || v == nil {
		return
	}
	var sigs []string
	for _, s := range v.Signatures {
		a := ""
		if s.Aligned {
			a = ", aligned"
		}
		sigs = append(sigs, fmt.Sprintf("d=%s s=%s %s%s", s.Domain, s.Selector, s.Result, a))
	}
	if len(sigs) == 0 {
		sigs = []string{"none"}
	}
	p.line("dkim", strings.Join(sigs, "; "))
	if len(v.SES) > 0 {
		var ses []string
		for _, h := range v.SES {
			ses = append(ses, h.Header+"="+h.Value)
		}
		p.line("ses", strings.Join(ses, "; "))
	}
	if v.CodeText != "" {
		p.line("code-in", fmt.Sprintf("text %s, html %s, link %s", v.CodeText, v.CodeHTML, v.CodeLink))
	}
	switch v.ResetCID {
	case inbox.CodeFound:
		p.line("cid", v.ResetClientID)
	case inbox.CodeAbsent:
		p.line("cid", "absent: the reset page falls back to the staging client")
	case inbox.CodeMismatch:
		p.line("cid", "MISMATCH: the reset links name different app clients")
	}
	if v.Trusted {
		p.line("trusted", "yes")
	} else {
		p.line("trusted", "NO: "+v.Reason+": "+v.Detail)
	}
}

func (p *printer) json(v any) {
	if !p.asJSON {
		return
	}
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
