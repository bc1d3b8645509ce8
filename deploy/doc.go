// Package deploy holds no code that ships: it is the home of the tests that
// keep the deployment honest.
//
//   - lambda_test.go builds dist/lambda.zip with `make lambda` in two clean
//     copies of the source, in different folders, and checks that the two zips
//     are the same bytes (skipped with -short).
package deploy
