//go:build !lambda

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/Phenom-earth/phenom-mailer/internal/doctor"
	"github.com/Phenom-earth/phenom-mailer/internal/testenv/standin"
)

func runDoctorTest(t *testing.T, args ...string) (doctor.Report, string, int) {
	t.Helper()
	// No test asks the machine's resolver (traffic stays on 127.0.0.1):
	// without --resolver, the doctor asks a healthy zone served here, unless
	// the test replaced the system's resolv.conf itself.
	if !slices.Contains(args, "--resolver") && resolvConf == defaultResolvConf {
		args = append(args, "--resolver", doctorZone(t).Addr)
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"doctor"}, args...), os.Getenv, nil, &stdout, &stderr)
	code := 0
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.Code
	} else if err != nil {
		t.Fatal(err)
	}
	var rep doctor.Report
	if slices.Contains(args, "--json") {
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("--json output is not JSON: %v", err)
		}
	}
	return rep, stdout.String(), code
}

func statusOf(rep doctor.Report, name string) string {
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.Name, name) {
			return c.Status
		}
	}
	return "missing"
}

func TestDoctorHealthyEnvironment(t *testing.T) {
	fs := newFaultStack(t, true, nil)
	_, err := motoStandin.SESClient().CreateConfigurationSet(context.Background(), &sesv2.CreateConfigurationSetInput{ConfigurationSetName: strPtrT("phenom-mail")})
	if err != nil {
		t.Fatal(err)
	}
	mailerEnv(t, map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": motoStandin.URL, "MAILER_IDEMPOTENCY_TABLE": fs.table, "MAILER_CONFIGURATION_SET": "phenom-mail",
		// A configuration set publishes its events (see doctor_delivery_test.go).
		"AWS_ENDPOINT_URL_SESV2": eventDestinations(t, "phenom-mail", []*sestypes.EventDestinationDefinition{snsDestination(allEventTypes...)})})
	zone := doctorZone(t)
	rep, _, code := runDoctorTest(t, "--json", "--resolver", zone.Addr)
	if code != 0 || !rep.OK {
		t.Fatalf("exit %d, report %+v", code, rep)
	}
	for _, name := range []string{"ses sending", "ses production access", "ses quota", "from identity", "from dkim", "kms key", "configuration set", "idempotency table", "idempotency ttl",
		"dmarc", "dmarc dkim alignment", "dkim cname 1/3", "dkim cname 2/3", "dkim cname 3/3"} {
		if st := statusOf(rep, name); st != doctor.OK {
			t.Errorf("%s: %s", name, st)
		}
	}
	if n := strings.Count(mustJSON(t, rep), `"check": "kms key`); n != 2 {
		t.Errorf("%d key checks, want one per configured key (2)", n)
	}
	if zone.Queries() == 0 {
		t.Error("doctor did not ask the --resolver server")
	}
	_, table, code := runDoctorTest(t, "--resolver", zone.Addr)
	if code != 0 || !strings.Contains(table, "CHECK") || !strings.Contains(table, "this environment can send") {
		t.Errorf("table output (exit %d):\n%s", code, table)
	}
}

func TestDoctorBrokenEnvironment(t *testing.T) {
	needStack(t)
	if err := motoStandin.Reset(); err != nil { // no identity at all
		t.Fatal(err)
	}
	mailerEnv(t, map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": motoStandin.URL,
		"MAILER_IDEMPOTENCY_TABLE":  "no-such-table",
		"MAILER_CONFIGURATION_SET":  "no-such-set",
		"MAILER_KMS_KEY_ARNS":       standin.KeyARN(standin.StagingKeyID) + "," + standin.KeyARN("00000000-0000-0000-0000-000000000000"),
	})
	zone := doctorZone(t)
	zone.Remove("_dmarc.thephenom.app")
	rep, _, code := runDoctorTest(t, "--json", "--resolver", zone.Addr)
	if code == 0 || rep.OK {
		t.Fatalf("exit %d for a broken environment", code)
	}
	if c := checkNamed(rep, "dmarc"); c.Status != doctor.Warn || !strings.Contains(c.Detail, "no DMARC record") {
		t.Errorf("dmarc without a record: %+v", c)
	}
	for _, name := range []string{"from identity", "configuration set", "idempotency table"} {
		if st := statusOf(rep, name); st != doctor.Fail {
			t.Errorf("%s: %s, want fail", name, st)
		}
	}
	var fails int
	for _, c := range rep.Checks {
		if c.Status == doctor.Fail {
			fails++
			if c.Fix == "" {
				t.Errorf("%s fails without saying what to fix", c.Name)
			}
		}
	}
	keyFails := 0
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.Name, "kms key") && c.Status == doctor.Fail {
			keyFails++
		}
	}
	if keyFails != 1 {
		t.Errorf("%d failing key checks, want 1 (the unknown key)", keyFails)
	}
	_, table, _ := runDoctorTest(t, "--resolver", zone.Addr)
	if !strings.Contains(table, "cannot send") || !strings.Contains(table, "→") {
		t.Errorf("table does not say it cannot send and what to fix:\n%s", table)
	}
}

func strPtrT(s string) *string { return &s }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
