//go:build !lambda

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/Phenom-earth/phenom-mailer/internal/doctor"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

// doctorZone is a DNS server on 127.0.0.1 with thephenom.app's DMARC
// record, its MAIL FROM domain's SPF and the Easy DKIM CNAMEs of the tokens
// the SES stand-in reports: doctor's tests pass it with --resolver, so
// that no test asks the system's resolver.
func doctorZone(t *testing.T) *standin.DNS {
	t.Helper()
	d, err := standin.StartDNS(map[string]string{
		"_dmarc.thephenom.app": "v=DMARC1; p=quarantine; adkim=r; aspf=r",
		"mail.thephenom.app":   "v=spf1 include:amazonses.com ~all",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	for _, tok := range standin.EasyDKIMTokens("thephenom.app") {
		d.SetCNAME(tok+"._domainkey.thephenom.app", tok+".dkim.amazonses.com")
	}
	return d
}

func checkNamed(rep doctor.Report, name string) doctor.Check {
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	return doctor.Check{Status: "missing"}
}

// The DNS checks through the real wiring: --resolver, the identity moto
// holds, the records the DNS server serves; strict DKIM alignment with the
// mailer's own signature for a parent domain fails.
func TestDoctorDNS(t *testing.T) {
	fs := newFaultStack(t, true, nil)
	_, err := motoStandin.SESClient().CreateConfigurationSet(context.Background(), &sesv2.CreateConfigurationSetInput{ConfigurationSetName: strPtrT("phenom-mail")})
	if err != nil {
		t.Fatal(err)
	}
	// The set publishes its events: only the DNS findings differ by case.
	eventDestinations(t, "phenom-mail", []*sestypes.EventDestinationDefinition{snsDestination(allEventTypes...)})
	base := map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": motoStandin.URL, "MAILER_IDEMPOTENCY_TABLE": fs.table, "MAILER_CONFIGURATION_SET": "phenom-mail"}
	zone := doctorZone(t)

	t.Run("p=none", func(t *testing.T) {
		mailerEnv(t, base)
		zone.SetTXT("_dmarc.thephenom.app", "v=DMARC1; p=none")
		rep, _, code := runDoctorTest(t, "--json", "--resolver", zone.Addr)
		if c := checkNamed(rep, "dmarc"); c.Status != doctor.Warn || !strings.Contains(c.Detail, "p=none") || c.Fix == "" {
			t.Errorf("dmarc: %+v", c)
		}
		if code != 0 {
			t.Errorf("exit %d: a warning must not fail the doctor: %+v", code, rep)
		}
	})

	t.Run("strict alignment: Easy DKIM aligns though the mailer also signs for another domain", func(t *testing.T) {
		zone.SetTXT("_dmarc.thephenom.app", "v=DMARC1; p=reject; adkim=s")
		env := map[string]string{"MAILER_DKIM_SELECTOR": "s1", "MAILER_DKIM_DOMAIN": "phenom.example",
			"MAILER_DKIM_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nnot used by doctor\n-----END PRIVATE KEY-----\n"}
		for k, v := range base {
			env[k] = v
		}
		mailerEnv(t, env)
		rep, _, _ := runDoctorTest(t, "--json", "--resolver", zone.Addr)
		// Easy DKIM of the thephenom.app identity still aligns.
		if c := checkNamed(rep, "dmarc dkim alignment"); c.Status != doctor.OK || !strings.Contains(c.Detail, "d=thephenom.app") {
			t.Errorf("alignment: %+v", c)
		}
	})

	t.Run("a CNAME missing", func(t *testing.T) {
		mailerEnv(t, base)
		zone.SetTXT("_dmarc.thephenom.app", "v=DMARC1; p=reject")
		tok := standin.EasyDKIMTokens("thephenom.app")[1]
		zone.Remove(tok + "._domainkey.thephenom.app")
		defer zone.SetCNAME(tok+"._domainkey.thephenom.app", tok+".dkim.amazonses.com")
		rep, table, code := runDoctorTest(t, "--json", "--resolver", zone.Addr)
		c := checkNamed(rep, "dkim cname 2/3")
		if c.Status != doctor.Fail || !strings.Contains(c.Detail, tok+"._domainkey.thephenom.app has no CNAME") ||
			!strings.Contains(c.Fix, "publish CNAME "+tok+"._domainkey.thephenom.app -> "+tok+".dkim.amazonses.com") {
			t.Errorf("missing CNAME: %+v", c)
		}
		if code != exitSetup || rep.OK {
			t.Errorf("exit %d, want %d", code, exitSetup)
		}
		for _, name := range []string{"dkim cname 1/3", "dkim cname 3/3", "dmarc"} {
			if st := checkNamed(rep, name).Status; st != doctor.OK {
				t.Errorf("%s: %s", name, st)
			}
		}
		_, table, _ = runDoctorTest(t, "--resolver", zone.Addr)
		if !strings.Contains(table, "dkim cname 2/3") || !strings.Contains(table, "FAIL") || !strings.Contains(table, "→ publish CNAME") {
			t.Errorf("table:\n%s", table)
		}
	})

	t.Run("custom MAIL FROM", func(t *testing.T) {
		mailerEnv(t, base)
		zone.SetTXT("_dmarc.thephenom.app", "v=DMARC1; p=reject")
		ses := motoStandin.SESClient()
		putMailFrom := func(domain string, b sestypes.BehaviorOnMxFailure) {
			t.Helper()
			if _, err := ses.PutEmailIdentityMailFromAttributes(context.Background(), &sesv2.PutEmailIdentityMailFromAttributesInput{
				EmailIdentity: aws.String("thephenom.app"), MailFromDomain: aws.String(domain), BehaviorOnMxFailure: b}); err != nil {
				t.Fatal(err)
			}
		}
		defer putMailFrom("", "")
		doctorRun := func() (doctor.Report, int) {
			rep, _, code := runDoctorTest(t, "--json", "--resolver", zone.Addr)
			return rep, code
		}

		putMailFrom("mail.thephenom.app", sestypes.BehaviorOnMxFailureUseDefaultValue)
		rep, code := doctorRun()
		if c := checkNamed(rep, "mail from"); c.Status != doctor.Warn || !strings.Contains(c.Detail, "mail.thephenom.app is PENDING") {
			t.Errorf("pending MAIL FROM: %+v", c)
		}
		if c := checkNamed(rep, "mail from spf"); c.Status != doctor.OK || !strings.Contains(c.Detail, "includes amazonses.com") {
			t.Errorf("SPF: %+v", c)
		}
		if code != 0 {
			t.Errorf("exit %d for warnings only", code)
		}

		if err := motoStandin.SetMailFromStatus("thephenom.app", "SUCCESS"); err != nil {
			t.Fatal(err)
		}
		zone.Remove("mail.thephenom.app")
		rep, _ = doctorRun()
		if c := checkNamed(rep, "mail from"); c.Status != doctor.OK {
			t.Errorf("verified MAIL FROM: %+v", c)
		}
		if c := checkNamed(rep, "mail from spf"); c.Status != doctor.Warn || !strings.Contains(c.Detail, "no SPF record") || !strings.Contains(c.Fix, "include:amazonses.com") {
			t.Errorf("MAIL FROM without SPF: %+v", c)
		}
		zone.SetTXT("mail.thephenom.app", "v=spf1 include:amazonses.com ~all")

		putMailFrom("mail.thephenom.app", sestypes.BehaviorOnMxFailureRejectMessage)
		if err := motoStandin.SetMailFromStatus("thephenom.app", "FAILED"); err != nil {
			t.Fatal(err)
		}
		rep, code = doctorRun()
		if c := checkNamed(rep, "mail from"); c.Status != doctor.Fail || !strings.Contains(c.Detail, "rejects every send") {
			t.Errorf("failed MAIL FROM with REJECT_MESSAGE: %+v", c)
		}
		if code != exitSetup {
			t.Errorf("exit %d, want %d", code, exitSetup)
		}
	})

	t.Run("unreachable resolver", func(t *testing.T) {
		mailerEnv(t, base)
		dead, err := standin.StartDNS(nil)
		if err != nil {
			t.Fatal(err)
		}
		addr := dead.Addr
		dead.Close()
		rep, _, _ := runDoctorTest(t, "--json", "--resolver", addr, "--timeout", "30s")
		if c := checkNamed(rep, "dmarc"); c.Status != doctor.Warn || !strings.Contains(c.Detail, "could not look up") {
			t.Errorf("dmarc with no server: %+v", c)
		}
	})

	t.Run("no system resolver", func(t *testing.T) {
		mailerEnv(t, base)
		old := resolvConf
		resolvConf = t.TempDir() + "/resolv.conf"
		defer func() { resolvConf = old }()
		rep, _, code := runDoctorTest(t, "--json")
		if c := checkNamed(rep, "dns"); c.Status != doctor.Warn || !strings.Contains(c.Fix, "--resolver") {
			t.Errorf("dns: %+v", c)
		}
		if checkNamed(rep, "dmarc").Status != "missing" || checkNamed(rep, "from identity").Status != doctor.OK || code != 0 {
			t.Errorf("exit %d; the other checks must run, the DNS ones not", code)
		}
	})

	t.Run("bad --resolver", func(t *testing.T) {
		mailerEnv(t, base)
		if _, _, code := runDoctorTest(t, "--resolver", "127.0.0.1"); code != exitUsage {
			t.Errorf("exit %d for --resolver without a port, want %d", code, exitUsage)
		}
	})
}
