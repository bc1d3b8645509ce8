package standin

import (
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// The SES v2 event-destination operations through the proxy, with the AWS
// SDK for Go v2 (the client the mailer's doctor uses; OpenTofu's AWS
// provider uses the same API), every documented refusal included.
func TestMotoEventDestinations(t *testing.T) {
	m := startMoto(t, MotoOptions{})
	ctx := t.Context()
	ses := m.SESClient()
	const set = "phenom-mailer-test"
	topic := "arn:aws:sns:us-east-1:123456789012:phenom-mailer-test-ses-events"
	seven := []sestypes.EventType{"SEND", "DELIVERY", "BOUNCE", "COMPLAINT", "REJECT", "DELIVERY_DELAY", "RENDERING_FAILURE"}
	def := &sestypes.EventDestinationDefinition{
		Enabled:            true,
		MatchingEventTypes: seven,
		SnsDestination:     &sestypes.SnsDestination{TopicArn: aws.String(topic)},
	}
	create := func(set, name string, d *sestypes.EventDestinationDefinition) error {
		_, err := ses.CreateConfigurationSetEventDestination(ctx, &sesv2.CreateConfigurationSetEventDestinationInput{
			ConfigurationSetName: aws.String(set), EventDestinationName: aws.String(name), EventDestination: d,
		})
		return err
	}
	wantCode := func(what string, err error, code string) {
		t.Helper()
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != code {
			t.Errorf("%s: %v, want %s", what, err, code)
		}
	}

	// No configuration set yet: NotFoundException, for every operation.
	wantCode("create without a set", create(set, "events", def), "NotFoundException")
	_, err := ses.GetConfigurationSetEventDestinations(ctx, &sesv2.GetConfigurationSetEventDestinationsInput{ConfigurationSetName: aws.String(set)})
	var nf *sestypes.NotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("get without a set: %v, want *types.NotFoundException", err)
	}

	if _, err := ses.CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetInput{ConfigurationSetName: aws.String(set)}); err != nil {
		t.Fatal(err)
	}
	if err := create(set, "events", def); err != nil {
		t.Fatalf("create: %v", err)
	}
	got, err := ses.GetConfigurationSetEventDestinations(ctx, &sesv2.GetConfigurationSetEventDestinationsInput{ConfigurationSetName: aws.String(set)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.EventDestinations) != 1 {
		t.Fatalf("%d destinations, want 1", len(got.EventDestinations))
	}
	d := got.EventDestinations[0]
	if aws.ToString(d.Name) != "events" || !d.Enabled || !slices.Equal(d.MatchingEventTypes, seven) ||
		d.SnsDestination == nil || aws.ToString(d.SnsDestination.TopicArn) != topic {
		t.Errorf("destination = %+v", d)
	}

	// The documented refusals.
	wantCode("same name", create(set, "events", def), "AlreadyExistsException")
	wantCode("bad name", create(set, "has space", def), "BadRequestException")
	wantCode("no destination", create(set, "none", &sestypes.EventDestinationDefinition{MatchingEventTypes: seven}), "BadRequestException")
	wantCode("two destinations", create(set, "two", &sestypes.EventDestinationDefinition{
		MatchingEventTypes:     seven,
		SnsDestination:         def.SnsDestination,
		EventBridgeDestination: &sestypes.EventBridgeDestination{EventBusArn: aws.String("arn:aws:events:us-east-1:123456789012:event-bus/default")},
	}), "BadRequestException")
	wantCode("unknown event type", create(set, "odd", &sestypes.EventDestinationDefinition{
		MatchingEventTypes: []sestypes.EventType{"SEND", "OPENED"}, SnsDestination: def.SnsDestination,
	}), "BadRequestException")
	wantCode("not a topic ARN", create(set, "odd", &sestypes.EventDestinationDefinition{
		MatchingEventTypes: seven, SnsDestination: &sestypes.SnsDestination{TopicArn: aws.String("my-topic")},
	}), "BadRequestException")
	for i := 1; i < maxEventDestinations; i++ {
		if err := create(set, "more-"+string(rune('a'+i)), def); err != nil {
			t.Fatalf("destination %d of %d: %v", i+1, maxEventDestinations, err)
		}
	}
	wantCode("one over the quota", create(set, "eleventh", def), "LimitExceededException")

	// Update replaces the definition; an unknown name is NotFound.
	_, err = ses.UpdateConfigurationSetEventDestination(ctx, &sesv2.UpdateConfigurationSetEventDestinationInput{
		ConfigurationSetName: aws.String(set), EventDestinationName: aws.String("events"),
		EventDestination: &sestypes.EventDestinationDefinition{Enabled: false, MatchingEventTypes: []sestypes.EventType{"BOUNCE"}, SnsDestination: def.SnsDestination},
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	_, err = ses.UpdateConfigurationSetEventDestination(ctx, &sesv2.UpdateConfigurationSetEventDestinationInput{
		ConfigurationSetName: aws.String(set), EventDestinationName: aws.String("nothing"), EventDestination: def,
	})
	wantCode("update unknown", err, "NotFoundException")
	got, err = ses.GetConfigurationSetEventDestinations(ctx, &sesv2.GetConfigurationSetEventDestinationsInput{ConfigurationSetName: aws.String(set)})
	if err != nil {
		t.Fatal(err)
	}
	if d := got.EventDestinations[0]; d.Enabled || !slices.Equal(d.MatchingEventTypes, []sestypes.EventType{"BOUNCE"}) {
		t.Errorf("after update: %+v", d)
	}

	// Delete one; deleting it again is NotFound.
	del := func(name string) error {
		_, err := ses.DeleteConfigurationSetEventDestination(ctx, &sesv2.DeleteConfigurationSetEventDestinationInput{
			ConfigurationSetName: aws.String(set), EventDestinationName: aws.String(name),
		})
		return err
	}
	if err := del("events"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	wantCode("delete again", del("events"), "NotFoundException")
	got, err = ses.GetConfigurationSetEventDestinations(ctx, &sesv2.GetConfigurationSetEventDestinationsInput{ConfigurationSetName: aws.String(set)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.EventDestinations) != maxEventDestinations-1 {
		t.Errorf("%d destinations after one delete, want %d", len(got.EventDestinations), maxEventDestinations-1)
	}

	// Deleting the set (moto's) takes its destinations with it: a new set of
	// the same name starts empty.
	if _, err := ses.DeleteConfigurationSet(ctx, &sesv2.DeleteConfigurationSetInput{ConfigurationSetName: aws.String(set)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ses.CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetInput{ConfigurationSetName: aws.String(set)}); err != nil {
		t.Fatal(err)
	}
	got, err = ses.GetConfigurationSetEventDestinations(ctx, &sesv2.GetConfigurationSetEventDestinationsInput{ConfigurationSetName: aws.String(set)})
	if err != nil || len(got.EventDestinations) != 0 {
		t.Errorf("a re-created set has destinations %+v (%v)", got, err)
	}

	// Reset clears them too.
	if err := create(set, "events", def); err != nil {
		t.Fatal(err)
	}
	if err := m.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, err := ses.CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetInput{ConfigurationSetName: aws.String(set)}); err != nil {
		t.Fatal(err)
	}
	got, err = ses.GetConfigurationSetEventDestinations(ctx, &sesv2.GetConfigurationSetEventDestinationsInput{ConfigurationSetName: aws.String(set)})
	if err != nil || len(got.EventDestinations) != 0 {
		t.Errorf("after Reset: %+v (%v)", got, err)
	}
}
