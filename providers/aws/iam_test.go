package aws

import (
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

func TestIAMUsersAndKeys(t *testing.T) {
	p, cfg := account(t, Options{})
	c := iam.NewFromConfig(cfg)
	ctx := t.Context()
	for _, u := range []string{"alice", "bob", "deploy"} {
		if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String(u)}); err != nil {
			t.Fatal(err)
		}
	}
	// alice and bob sign in to the console; only bob has MFA.
	for _, u := range []string{"alice", "bob"} {
		if _, err := c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: awssdk.String(u), Password: awssdk.String("Correct-Horse-9")}); err != nil {
			t.Fatal(err)
		}
	}
	mfa := must[*iam.CreateVirtualMFADeviceOutput](t)(c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: awssdk.String("bob")}))
	if _, err := c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: awssdk.String("bob"), SerialNumber: mfa.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: awssdk.String("123456"), AuthenticationCode2: awssdk.String("654321")}); err != nil {
		t.Fatal(err)
	}
	// deploy has an access key that has never been used.
	if _, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("deploy")}); err != nil {
		t.Fatal(err)
	}

	expect(t, "aws.iam.users.nomfa", found(t, p, "aws.iam.users.nomfa", nil),
		"arn:aws:iam::123456789012:user/alice console_without_mfa high")
	// A new key is neither old nor unused yet.
	expect(t, "aws.iam.keys.old", found(t, p, "aws.iam.keys.old", nil))

	// 100 days later the key is both.
	later := New(Options{MaxAttempts: 1, Now: func() time.Time { return time.Now().Add(100 * 24 * time.Hour) }})
	expect(t, "aws.iam.keys.old later", found(t, later, "aws.iam.keys.old", nil),
		"arn:aws:iam::123456789012:user/deploy access_key_1_old medium",
		"arn:aws:iam::123456789012:user/deploy access_key_1_unused medium")
	// Thresholds are parameters.
	expect(t, "aws.iam.keys.old max_age=200d", found(t, later, "aws.iam.keys.old", map[string]string{"max_age": "200d", "unused": "200d"}))

	// MFA for alice resolves her finding.
	mfa2 := must[*iam.CreateVirtualMFADeviceOutput](t)(c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: awssdk.String("alice")}))
	if _, err := c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: awssdk.String("alice"), SerialNumber: mfa2.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: awssdk.String("123456"), AuthenticationCode2: awssdk.String("654321")}); err != nil {
		t.Fatal(err)
	}
	expect(t, "aws.iam.users.nomfa after MFA", found(t, p, "aws.iam.users.nomfa", nil))
}
