// Package deploy holds no code that ships: it is the home of the tests that
// keep the deployment honest.
//
//   - terraform/ is the Terraform module that deploys the mailer (function,
//     role, one KMS key per pool, Cognito's invoke permission, the
//     idempotency table, optionally the test accounts' inbound bucket; the
//     SES events pipeline, the events function, the delivery table, the
//     on-failure queue and the alarms), and terraform/examples/phenom/ the
//     root module for Phenom's pools. terraform_test.go and events_test.go
//     parse the module with github.com/hashicorp/hcl/v2 and check the wiring
//     that matters (who may decrypt, send, invoke and create grants, the
//     tables' schemas, the environment the mailer reads, every alarm against
//     what the code emits), that every reference resolves and that the files
//     are formatted; tofu_test.go runs the example root with a real engine
//     (OpenTofu, bin/tofu from `make deps`, and the preinstalled AWS provider
//     5.100.0) against moto: init, validate, plan, apply, an empty second
//     plan, destroy.
//   - ../.github/workflows/ holds CI (the README's `make test`) and the
//     scheduled reset round trip against phenom-staging; workflows_test.go
//     runs actionlint on them (with shellcheck when it is installed), checks
//     that every action is pinned by a full commit SHA, and that the round
//     trip's command, OIDC credentials and report artefact are as intended.
//   - lambda_test.go builds dist/lambda.zip with `make lambda` in two clean
//     copies of the source, in different folders, and checks that the two zips
//     are the same bytes (skipped with -short).
//   - docs_test.go parses the HCL snippets of docs/operations.md.
//
// docs/operations.md says how to use all of it.
package deploy
