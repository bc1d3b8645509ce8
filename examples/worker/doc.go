// Package worker holds the TypeScript example of a caller outside AWS, a
// Cloudflare Worker (send.ts; node.ts runs it under Node 20+), and the Go
// test that runs it under Node against the function URL stand-in. There is
// no Go code to import here.
package worker
