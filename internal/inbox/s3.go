package inbox

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3API is the part of the S3 client the S3 source calls.
type S3API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// SESSetupNotification is the object SES writes when a receipt rule's S3
// action is set up.
const SESSetupNotification = "AMAZON_SES_SETUP_NOTIFICATION"

// S3 reads what an SES receipt rule's S3 action wrote: one object per
// message, key PREFIX + SES message id, the raw MIME unmodified. Received is
// LastModified. Keys carry no time order, so each look lists the prefix
// (keep a lifecycle rule on it) and reads the newest objects first.
type S3 struct {
	Client S3API
	Bucket string
	Prefix string
	// MaxSize skips larger objects (DefaultMaxSize when zero).
	MaxSize int64
	// MaxObjects bounds how many recent objects one look reads (20 when
	// zero); MaxKeys bounds how many keys it lists (10,000 when zero).
	MaxObjects, MaxKeys int
}

func (s *S3) String() string { return "s3://" + s.Bucket + "/" + s.Prefix }

// Fetch implements Source.
func (s *S3) Fetch(ctx context.Context, since time.Time, skip func(string) bool) ([]Message, error) {
	max := s.MaxSize
	if max <= 0 {
		max = DefaultMaxSize
	}
	maxObjects, maxKeys := s.MaxObjects, s.MaxKeys
	if maxObjects <= 0 {
		maxObjects = 20
	}
	if maxKeys <= 0 {
		maxKeys = 10000
	}
	type obj struct {
		key  string
		when time.Time
	}
	var objs []obj
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(s.Prefix)}
	listed := 0
	for {
		out, err := s.Client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("s3 list: %w", err)
		}
		for _, o := range out.Contents {
			listed++
			key := aws.ToString(o.Key)
			when := aws.ToTime(o.LastModified)
			switch {
			case strings.HasSuffix(key, SESSetupNotification), strings.HasSuffix(key, "/"):
			case aws.ToInt64(o.Size) > max, when.Before(since):
			case skip != nil && skip(key):
			default:
				objs = append(objs, obj{key, when})
			}
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil || listed >= maxKeys {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].when.After(objs[j].when) })
	if len(objs) > maxObjects {
		objs = objs[:maxObjects]
	}
	var msgs []Message
	for _, o := range objs {
		out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(o.key)})
		if err != nil {
			return nil, fmt.Errorf("s3 get %s: %w", o.key, err)
		}
		raw, err := io.ReadAll(io.LimitReader(out.Body, max+1))
		out.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("s3 get %s: %w", o.key, err)
		}
		if int64(len(raw)) > max {
			continue
		}
		msgs = append(msgs, Message{ID: o.key, Received: o.when, Raw: raw})
	}
	return msgs, nil
}
