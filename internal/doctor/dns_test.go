package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// The DNS checks run against a real DNS server on 127.0.0.1 (the one the
// inbox reader's tests use, internal/testenv/standin); SES's GetEmailIdentity, which
// names the tokens and the MAIL FROM domain, is an in-process fake here and
// moto in cmd/mailer's doctor tests.

var tokens = []string{"abcdefghijklmnopqrstuvwxyz234567", "bcdefghijklmnopqrstuvwxyz234567a", "cdefghijklmnopqrstuvwxyz234567ab"}

type identitySES struct {
	fakeSES
	mailFrom *sestypes.MailFromAttributes
}

func (f identitySES) GetEmailIdentity(context.Context, *sesv2.GetEmailIdentityInput, ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error) {
	return &sesv2.GetEmailIdentityOutput{VerifiedForSendingStatus: true, MailFromAttributes: f.mailFrom,
		DkimAttributes: &sestypes.DkimAttributes{Status: sestypes.DkimStatusSuccess, SigningEnabled: true,
			SigningAttributesOrigin: sestypes.DkimSigningAttributesOriginAwsSes, Tokens: tokens}}, nil
}

var verifiedMailFrom = &sestypes.MailFromAttributes{MailFromDomain: aws.String("mail.thephenom.app"),
	MailFromDomainStatus: sestypes.MailFromDomainStatusSuccess, BehaviorOnMxFailure: sestypes.BehaviorOnMxFailureUseDefaultValue}

// healthyZone is thephenom.app as it should be.
func healthyZone(t *testing.T) *standin.DNS {
	t.Helper()
	d, err := standin.StartDNS(map[string]string{
		"_dmarc.thephenom.app":  "v=DMARC1; p=quarantine; adkim=r; aspf=r; rua=mailto:dmarc@thephenom.app",
		"mail.thephenom.app":    "v=spf1 include:amazonses.com ~all",
		"thephenom.app":         "google-site-verification=abc",
		"_dmarc.other.example":  "v=DMARC1; p=reject",
		"unrelated.example.com": "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	for _, tok := range tokens {
		d.SetCNAME(tok+"._domainkey.thephenom.app", tok+".dkim.amazonses.com")
	}
	return d
}

func runDNS(t *testing.T, d *standin.DNS, mailFrom *sestypes.MailFromAttributes, from string, signers ...string) Report {
	t.Helper()
	r, err := NewResolver(d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return Run(context.Background(), Config{FromDomain: from, SES: identitySES{mailFrom: mailFrom}, KMS: deniedKMS{},
		DNS: r, DKIMDomains: signers})
}

func statuses(r Report) map[string]Check {
	out := map[string]Check{}
	for _, c := range r.Checks {
		out[c.Name] = c
	}
	return out
}

var dnsCheckNames = []string{"dmarc", "dmarc dkim alignment", "mail from", "mail from spf", "dkim cname 1/3", "dkim cname 2/3", "dkim cname 3/3"}

func TestDNSHealthy(t *testing.T) {
	d := healthyZone(t)
	got := statuses(runDNS(t, d, verifiedMailFrom, "thephenom.app"))
	for _, name := range dnsCheckNames {
		if c := got[name]; c.Status != OK {
			t.Errorf("%s: %s %s", name, c.Status, c.Detail)
		}
	}
	if c := got["dmarc"]; !strings.Contains(c.Detail, "p=quarantine") {
		t.Errorf("dmarc detail %q does not name the policy", c.Detail)
	}
	if c := got["dkim cname 1/3"]; !strings.Contains(c.Detail, tokens[0]+"._domainkey.thephenom.app -> "+tokens[0]+".dkim.amazonses.com") {
		t.Errorf("cname detail %q", c.Detail)
	}
	if d.Queries() < 5 { // one DMARC, one SPF, three CNAMEs
		t.Errorf("the server answered %d questions: the checks did not ask it", d.Queries())
	}
}

// Each broken zone fails or warns on the check it breaks, with a fix, and
// leaves the others alone.
func TestDNSBrokenZones(t *testing.T) {
	for _, tt := range []struct {
		name     string
		edit     func(d *standin.DNS)
		mailFrom *sestypes.MailFromAttributes
		from     string
		signers  []string
		check    string // the check that must not be OK
		status   string
		detail   string // a part of its detail
	}{
		{name: "no DMARC", edit: func(d *standin.DNS) { d.Remove("_dmarc.thephenom.app") },
			check: "dmarc", status: Warn, detail: "no DMARC record at _dmarc.thephenom.app"},
		{name: "p=none", edit: func(d *standin.DNS) { d.SetTXT("_dmarc.thephenom.app", "v=DMARC1; p=none; rua=mailto:x@thephenom.app") },
			check: "dmarc", status: Warn, detail: "p=none"},
		{name: "two DMARC records", edit: func(d *standin.DNS) { d.AddTXT("_dmarc.thephenom.app", "v=DMARC1; p=reject") },
			check: "dmarc", status: Warn, detail: "2 DMARC records"},
		{name: "two SPF records", edit: func(d *standin.DNS) { d.AddTXT("mail.thephenom.app", "v=spf1 -all") },
			check: "mail from spf", status: Warn, detail: "2 SPF records"},
		{name: "invalid policy", edit: func(d *standin.DNS) { d.SetTXT("_dmarc.thephenom.app", "v=DMARC1; p=block") },
			check: "dmarc", status: Warn, detail: "invalid"},
		{name: "strict adkim, signed by the parent domain", edit: func(d *standin.DNS) {
			d.SetTXT("_dmarc.mail.thephenom.app", "v=DMARC1; p=reject; adkim=s")
		}, from: "mail.thephenom.app", signers: []string{"thephenom.app"},
			check: "dmarc dkim alignment", status: Fail, detail: "adkim=s (strict)"},
		{name: "relaxed adkim, another organization's signature", edit: func(d *standin.DNS) {},
			signers: []string{"amazonses.com"}, check: "dmarc dkim alignment", status: Fail, detail: "signed by d=amazonses.com"},
		{name: "missing CNAME", edit: func(d *standin.DNS) { d.Remove(tokens[1] + "._domainkey.thephenom.app") },
			check: "dkim cname 2/3", status: Fail, detail: "has no CNAME"},
		{name: "CNAME to the wrong token", edit: func(d *standin.DNS) {
			d.SetCNAME(tokens[2]+"._domainkey.thephenom.app", tokens[0]+".dkim.amazonses.com")
		}, check: "dkim cname 3/3", status: Fail, detail: "points to " + tokens[0] + ".dkim.amazonses.com"},
		{name: "DKIM key as TXT instead of CNAME", edit: func(d *standin.DNS) {
			d.SetTXT(tokens[0]+"._domainkey.thephenom.app", "v=DKIM1; k=rsa; p=MIIB")
		}, check: "dkim cname 1/3", status: Fail, detail: "has no CNAME"},
		{name: "MAIL FROM without SPF", edit: func(d *standin.DNS) { d.Remove("mail.thephenom.app") },
			check: "mail from spf", status: Warn, detail: "mail.thephenom.app has no SPF record"},
		{name: "SPF without amazonses.com", edit: func(d *standin.DNS) { d.SetTXT("mail.thephenom.app", "v=spf1 include:_spf.google.com ~all") },
			check: "mail from spf", status: Warn, detail: "does not include amazonses.com"},
		{name: "no custom MAIL FROM", edit: func(d *standin.DNS) {}, mailFrom: &sestypes.MailFromAttributes{},
			check: "mail from", status: Warn, detail: "SPF passes only for amazonses.com"},
		{name: "MAIL FROM failed, reject on MX failure", edit: func(d *standin.DNS) {}, mailFrom: &sestypes.MailFromAttributes{
			MailFromDomain: aws.String("mail.thephenom.app"), MailFromDomainStatus: sestypes.MailFromDomainStatusFailed,
			BehaviorOnMxFailure: sestypes.BehaviorOnMxFailureRejectMessage},
			check: "mail from", status: Fail, detail: "rejects every send"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := healthyZone(t)
			tt.edit(d)
			mf := verifiedMailFrom
			if tt.mailFrom != nil {
				mf = tt.mailFrom
			}
			from := tt.from
			if from == "" {
				from = "thephenom.app"
			}
			got := statuses(runDNS(t, d, mf, from, tt.signers...))
			c, ok := got[tt.check]
			if !ok {
				t.Fatalf("no %q check in %v", tt.check, got)
			}
			if c.Status != tt.status || !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("%s: %s %q, want %s with %q", tt.check, c.Status, c.Detail, tt.status, tt.detail)
			}
			if c.Fix == "" {
				t.Errorf("%s says nothing about how to fix it", tt.check)
			}
			if from != "thephenom.app" {
				return
			}
			for _, name := range dnsCheckNames {
				dependent := tt.check == "mail from" && name == "mail from spf" ||
					tt.check == "dmarc" && name == "dmarc dkim alignment" // without a valid record there is nothing to align with
				if name != tt.check && got[name].Status != OK && !dependent {
					t.Errorf("%s: %s %q, broken by a change to %s", name, got[name].Status, got[name].Detail, tt.check)
				}
			}
		})
	}
}

// A subdomain without its own record is judged by the organizational
// domain's, with sp= for its policy (RFC 7489 6.6.3).
func TestDMARCOrganizationalFallback(t *testing.T) {
	d := healthyZone(t)
	d.SetTXT("_dmarc.thephenom.app", "v=DMARC1; p=reject; sp=none; adkim=r")
	got := statuses(runDNS(t, d, verifiedMailFrom, "mail.thephenom.app", "thephenom.app"))
	if c := got["dmarc"]; c.Status != Warn || !strings.Contains(c.Detail, "organizational domain") || !strings.Contains(c.Detail, "p=none") {
		t.Errorf("dmarc: %s %q, want the organizational record's sp=none", c.Status, c.Detail)
	}
	if c := got["dmarc dkim alignment"]; c.Status != OK {
		t.Errorf("relaxed alignment of d=thephenom.app with mail.thephenom.app: %s %q", c.Status, c.Detail)
	}
}

func TestDMARCParse(t *testing.T) {
	for txt, want := range map[string]dmarcRecord{
		"v=DMARC1; p=reject":                         {p: "reject", adkim: "r", valid: true},
		"v=DMARC1;p=quarantine;adkim=s;rua=mailto:x": {p: "quarantine", adkim: "s", hasRUA: true, valid: true},
		"v=DMARC1; p=none; adkim=x":                  {p: "none", adkim: "x"},
		"v=DMARC1; adkim=s":                          {adkim: "s"},
	} {
		got, ok := parseDMARC("n", txt)
		want.name = "n"
		if !ok || got != want {
			t.Errorf("parseDMARC(%q) = %+v %v, want %+v", txt, got, ok, want)
		}
	}
	for _, notDMARC := range []string{"v=spf1 -all", "p=reject; v=DMARC1", "v=DMARC2; p=reject", ""} {
		if _, ok := parseDMARC("n", notDMARC); ok {
			t.Errorf("%q taken for a DMARC record", notDMARC)
		}
	}
}

// A server that does not answer is a warning to check the resolver, not
// a verdict on the records.
func TestDNSUnreachable(t *testing.T) {
	d := healthyZone(t)
	addr := d.Addr
	d.Close()
	r, err := NewResolver(addr)
	if err != nil {
		t.Fatal(err)
	}
	r.Timeout = 300e6 // 0.3 s
	rep := Run(context.Background(), Config{FromDomain: "thephenom.app", SES: identitySES{mailFrom: verifiedMailFrom}, KMS: deniedKMS{}, DNS: r})
	got := statuses(rep)
	for _, name := range []string{"dmarc", "mail from spf", "dkim cname 1/3"} {
		if c := got[name]; c.Status != Warn || !strings.Contains(c.Detail, "could not look up") || !strings.Contains(c.Fix, "--resolver") {
			t.Errorf("%s: %s %q", name, c.Status, c.Detail)
		}
	}
}

func TestDNSReportOutputs(t *testing.T) {
	d := healthyZone(t)
	d.Remove(tokens[0] + "._domainkey.thephenom.app")
	d.SetTXT("_dmarc.thephenom.app", "v=DMARC1; p=none")
	rep := runDNS(t, d, verifiedMailFrom, "thephenom.app")
	if rep.OK {
		t.Error("a missing DKIM CNAME leaves the report OK")
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"dkim cname 1/3", "FAIL", tokens[0] + "._domainkey.thephenom.app has no CNAME",
		"→ publish CNAME " + tokens[0] + "._domainkey.thephenom.app -> " + tokens[0] + ".dkim.amazonses.com",
		"dmarc", "WARN", "p=none", "→ once the aggregate reports",
	} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	got := statuses(back)
	if c := got["dkim cname 1/3"]; c.Status != Fail || c.Fix == "" {
		t.Errorf("JSON: %+v", c)
	}
	if c := got["dmarc dkim alignment"]; c.Status != OK {
		t.Errorf("JSON: %+v", c)
	}
}

func TestResolverArguments(t *testing.T) {
	for _, bad := range []string{"127.0.0.1", "", "127.0.0.1:"} {
		if _, err := NewResolver(bad); err == nil {
			t.Errorf("NewResolver(%q) accepted", bad)
		}
	}
	f, err := os.CreateTemp(t.TempDir(), "resolv")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("nameserver 127.0.0.53\nnameserver ::1\noptions timeout:2\n")
	f.Close()
	r, err := SystemResolver(f.Name())
	if err != nil || len(r.Servers) != 2 || r.Servers[0] != "127.0.0.53:53" || r.Servers[1] != "[::1]:53" || r.Timeout != 2e9 {
		t.Errorf("SystemResolver = %+v, %v", r, err)
	}
	if _, err := SystemResolver(f.Name() + ".missing"); err == nil {
		t.Error("a missing resolv.conf accepted")
	}
	d := healthyZone(t)
	r, _ = NewResolver(d.Addr)
	if _, err := r.TXT(context.Background(), "nowhere.thephenom.app"); !errors.Is(err, ErrNoRecord) {
		t.Errorf("NXDOMAIN: %v, want ErrNoRecord", err)
	}
	if _, err := r.CNAME(context.Background(), "_dmarc.thephenom.app"); !errors.Is(err, ErrNoRecord) {
		t.Errorf("a name with TXT only asked for CNAME: %v, want ErrNoRecord", err)
	}
}

// Only Easy DKIM of this region has CNAMEs here to check.
func TestDKIMCNAMEOrigins(t *testing.T) {
	d := healthyZone(t)
	r, _ := NewResolver(d.Addr)
	for origin, want := range map[sestypes.DkimSigningAttributesOrigin][2]string{
		sestypes.DkimSigningAttributesOriginExternal:      {OK, "not Easy DKIM"},
		sestypes.DkimSigningAttributesOriginAwsSesUsWest2: {Warn, "not checked: DKIM origin AWS_SES_US_WEST_2"},
	} {
		got := dkimCNAMEChecks(context.Background(), r, "thephenom.app", &sestypes.DkimAttributes{SigningAttributesOrigin: origin, Tokens: tokens})
		if len(got) != 1 || got[0].Status != want[0] || !strings.HasPrefix(got[0].Detail, want[1]) {
			t.Errorf("%s: %+v, want %s %q", origin, got, want[0], want[1])
		}
	}
	if got := dkimCNAMEChecks(context.Background(), r, "thephenom.app", &sestypes.DkimAttributes{SigningAttributesOrigin: sestypes.DkimSigningAttributesOriginAwsSes}); len(got) != 1 || got[0].Status != Fail {
		t.Errorf("Easy DKIM without tokens: %+v", got)
	}
}
