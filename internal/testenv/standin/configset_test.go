package standin

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// GetConfigurationSet through the proxy answers what was set, as SES does:
// SendingEnabled as the boolean it was given (moto nests it in an object),
// and no section for options never set (moto answers {}).
func TestMotoConfigurationSetAsSet(t *testing.T) {
	m := startMoto(t, MotoOptions{})
	ctx := t.Context()
	ses := m.SESClient()
	for _, enabled := range []bool{true, false} {
		name := "set-enabled"
		if !enabled {
			name = "set-paused"
		}
		_, err := ses.CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetInput{
			ConfigurationSetName: aws.String(name),
			SendingOptions:       &sestypes.SendingOptions{SendingEnabled: enabled},
			DeliveryOptions:      &sestypes.DeliveryOptions{TlsPolicy: sestypes.TlsPolicyRequire},
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := ses.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if got.SendingOptions == nil || got.SendingOptions.SendingEnabled != enabled {
			t.Errorf("%s: SendingOptions %+v, want SendingEnabled %v", name, got.SendingOptions, enabled)
		}
		if got.DeliveryOptions == nil || got.DeliveryOptions.TlsPolicy != sestypes.TlsPolicyRequire {
			t.Errorf("%s: DeliveryOptions %+v", name, got.DeliveryOptions)
		}
		if got.SuppressionOptions != nil || got.TrackingOptions != nil || got.VdmOptions != nil {
			t.Errorf("%s: options never set are present: suppression %+v tracking %+v vdm %+v", name, got.SuppressionOptions, got.TrackingOptions, got.VdmOptions)
		}
	}
}
