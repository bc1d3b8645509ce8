package standin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
)

// ErrCognitoLocalMissing means node or the cognito-local npm package
// (make deps: npm ci) is not installed.
var ErrCognitoLocalMissing = errors.New("standin: cognito-local not installed (make deps runs npm ci)")

// CognitoLocalOptions configures StartCognitoLocal.
type CognitoLocalOptions struct {
	// KMSURL is the KMS endpoint cognito-local encrypts codes through (the
	// local-kms stand-in); KMSKeyARN the key, KMSKeyAlias its generator
	// (cognito-local wants both; the alias may be the ARN again).
	KMSURL, KMSKeyARN, KMSKeyAlias string
	// LambdaURL is the Lambda Invoke endpoint (aws-lambda-rie's
	// "http://127.0.0.1:PORT"); the function is called "function". Empty:
	// no custom email sender.
	LambdaURL string
}

// CognitoLocal is a cognito-local (npm) child process on 127.0.0.1.
type CognitoLocal struct {
	// URL is "http://127.0.0.1:PORT": AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER.
	URL string
	// Dir is its working directory (.cognito/ holds config and database).
	Dir string

	cmd      *exec.Cmd
	waitDone chan struct{}
	out      LockedBuffer
	once     sync.Once
}

// StartCognitoLocal starts cognito-local from the repository's
// node_modules, bound to 127.0.0.1 (ServerConfig.hostname and HOST), with
// the custom email sender trigger pointed at opts.LambdaURL.
func StartCognitoLocal(ctx context.Context, opts CognitoLocalOptions) (*CognitoLocal, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w: node: %v", ErrCognitoLocalMissing, err)
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "node_modules", "cognito-local", "lib", "bin", "start.js")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCognitoLocalMissing, err)
	}
	dir, err := os.MkdirTemp("", "standin-cognito-local-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &CognitoLocal{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Dir: dir}
	creds := map[string]string{"accessKeyId": "test", "secretAccessKey": "test"}
	cfg := map[string]any{
		"ServerConfig":     map[string]any{"hostname": "127.0.0.1", "port": port},
		"TokenConfig":      map[string]any{"IssuerDomain": c.URL},
		"UserPoolDefaults": map[string]any{"UsernameAttributes": []string{"email"}},
		"LambdaClient":     map[string]any{"region": Region, "credentials": creds, "endpoint": "http://127.0.0.1:9"},
		"KMSConfig":        map[string]any{"region": Region, "credentials": creds, "endpoint": "http://127.0.0.1:9"},
		"TriggerFunctions": map[string]any{},
	}
	if opts.LambdaURL != "" {
		cfg["LambdaClient"].(map[string]any)["endpoint"] = opts.LambdaURL
		cfg["TriggerFunctions"] = map[string]any{"CustomEmailSender": "function"}
		kms := cfg["KMSConfig"].(map[string]any)
		kms["endpoint"], kms["KMSKeyId"], kms["KMSKeyAlias"] = opts.KMSURL, opts.KMSKeyARN, opts.KMSKeyAlias
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.MkdirAll(filepath.Join(dir, ".cognito"), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ".cognito", "config.json"), b, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(node, script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOST=127.0.0.1", "PORT="+strconv.Itoa(port), "DEBUG=", "COGNITO_LOCAL_DEVMODE=",
		// Its KMS and Lambda clients (aws-sdk v2 for JavaScript) must not
		// find real credentials or endpoints.
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION="+Region, "AWS_EC2_METADATA_DISABLED=true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL} // no orphan if the test process dies
	cmd.Stdout, cmd.Stderr = &c.out, &c.out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("standin: start cognito-local: %w", err)
	}
	c.cmd = cmd
	c.waitDone = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(c.waitDone)
	}()
	addr := strings.TrimPrefix(c.URL, "http://")
	deadline := time.Now().Add(60 * time.Second)
	for !ready(addr) {
		select {
		case <-c.waitDone:
			return nil, fmt.Errorf("standin: cognito-local exited: %s", clipLog([]byte(c.out.String())))
		case <-ctx.Done():
			c.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.Close()
			return nil, errors.New("standin: cognito-local did not listen within 60s")
		}
	}
	return c, nil
}

// Client is a Cognito user pools client for this server.
func (c *CognitoLocal) Client() *cip.Client {
	return cip.New(cip.Options{
		Region:       Region,
		BaseEndpoint: aws.String(c.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// CreatePool creates a user pool with an app client (no secret, with
// USER_PASSWORD_AUTH and USER_SRP_AUTH) and a confirmed user whose email
// is verified. It returns the pool id and the client id.
func (c *CognitoLocal) CreatePool(ctx context.Context, name, email, password string) (poolID, clientID string, err error) {
	cl := c.Client()
	p, err := cl.CreateUserPool(ctx, &cip.CreateUserPoolInput{
		PoolName:               aws.String(name),
		UsernameAttributes:     []ciptypes.UsernameAttributeType{ciptypes.UsernameAttributeTypeEmail},
		AutoVerifiedAttributes: []ciptypes.VerifiedAttributeType{ciptypes.VerifiedAttributeTypeEmail},
	})
	if err != nil {
		return "", "", fmt.Errorf("standin: create user pool: %w", err)
	}
	poolID = aws.ToString(p.UserPool.Id)
	ac, err := cl.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{
		UserPoolId: aws.String(poolID),
		ClientName: aws.String(name + "-app"),
		ExplicitAuthFlows: []ciptypes.ExplicitAuthFlowsType{
			ciptypes.ExplicitAuthFlowsTypeAllowUserPasswordAuth,
			ciptypes.ExplicitAuthFlowsTypeAllowUserSrpAuth,
			ciptypes.ExplicitAuthFlowsTypeAllowRefreshTokenAuth,
		},
	})
	if err != nil {
		return "", "", fmt.Errorf("standin: create app client: %w", err)
	}
	clientID = aws.ToString(ac.UserPoolClient.ClientId)
	_, err = cl.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
		UserPoolId:    aws.String(poolID),
		Username:      aws.String(email),
		MessageAction: ciptypes.MessageActionTypeSuppress,
		UserAttributes: []ciptypes.AttributeType{
			{Name: aws.String("email"), Value: aws.String(email)},
			{Name: aws.String("email_verified"), Value: aws.String("true")},
		},
	})
	if err != nil {
		return "", "", fmt.Errorf("standin: create user: %w", err)
	}
	_, err = cl.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
		UserPoolId: aws.String(poolID),
		Username:   aws.String(email),
		Password:   aws.String(password),
		Permanent:  true,
	})
	if err != nil {
		return "", "", fmt.Errorf("standin: set the user's password: %w", err)
	}
	return poolID, clientID, nil
}

// Close stops cognito-local and removes its folder.
func (c *CognitoLocal) Close() error {
	c.once.Do(func() {
		if c.cmd != nil && c.cmd.Process != nil {
			pid := c.cmd.Process.Pid
			_ = syscall.Kill(-pid, syscall.SIGTERM)
			select {
			case <-c.waitDone:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				<-c.waitDone
			}
		}
		os.RemoveAll(c.Dir)
	})
	return nil
}
