package standin

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Client is an S3 client for moto (through its proxy), path-style.
func (m *Moto) S3Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(m.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		UsePathStyle: true,
		// moto's answers carry no additional checksums: no warning per GET.
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// CreateBucket creates an S3 bucket on moto.
func (m *Moto) CreateBucket(ctx context.Context, bucket string) error {
	if _, err := m.S3Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("standin: create bucket %s: %w", bucket, err)
	}
	return nil
}

// PutObject writes one object on moto.
func (m *Moto) PutObject(ctx context.Context, bucket, key string, body []byte) error {
	_, err := m.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		return fmt.Errorf("standin: put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}
