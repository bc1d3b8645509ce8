// Send a mail through phenom-mailer from a Cloudflare Worker (or Node 20+):
// POST <function URL>/v1/send, signed with AWS Signature Version 4 for the
// service "lambda" by aws4fetch. The function URL uses AWS_IAM auth: the
// access key must belong to an IAM user or role with the policy the
// Terraform module prints as send_caller_policy_json
// (lambda:InvokeFunctionUrl and lambda:InvokeFunction on the function).
//
// Status codes (README, "Send a mail from another Phenom service"):
// 200 sent or already sent; 400/422 refused (do not retry); 409 in flight,
// 429 throttled, 503 not ready (retry after Retry-After); 403 the signature
// or the IAM policy.
import { AwsClient } from "aws4fetch";

/** The request every entry point of the mailer reads. */
export interface MailRequest {
  template: string;
  to: string;
  locale?: string;
  data: Record<string, unknown>;
  idempotency_key?: string;
  tags?: Record<string, string>;
}

/** Where and as whom to send. Keep the secret in a Worker secret. */
export interface MailerConfig {
  functionUrl: string; // https://<url-id>.lambda-url.<region>.on.aws/
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** What became of the request, and what the caller should do next. */
export interface SendResult {
  status: number;
  // ok: sent (or already sent); refused: fix the request; retry: send again
  // after retryAfterSeconds; error: anything else (403: credentials or policy).
  kind: "ok" | "refused" | "retry" | "error";
  outcome?: string; // sent, duplicate, refused, failed, suppressed
  reason?: string;
  messageId?: string;
  requestId?: string;
  errors: string[];
  retryAfterSeconds?: number;
  error?: string;
}

export async function sendMail(cfg: MailerConfig, req: MailRequest): Promise<SendResult> {
  const aws = new AwsClient({
    accessKeyId: cfg.accessKeyId,
    secretAccessKey: cfg.secretAccessKey,
    sessionToken: cfg.sessionToken,
    service: "lambda",
    region: cfg.region,
    // aws4fetch retries 429 and 5xx by default (10 times, backing off);
    // the mailer says when to come back (Retry-After), so the answer is
    // returned at once and the caller decides (a queue, a later request).
    retries: 0,
  });
  const res = await aws.fetch(cfg.functionUrl.replace(/\/+$/, "") + "/v1/send", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(req),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    body = { error: text.slice(0, 200) };
  }
  const s = res.status;
  const retryAfter = Number(res.headers.get("retry-after"));
  return {
    status: s,
    kind: s === 200 ? "ok" : s === 400 || s === 422 ? "refused" : s === 409 || s === 429 || s >= 500 ? "retry" : "error",
    outcome: body.outcome as string | undefined,
    reason: body.reason as string | undefined,
    messageId: body.message_id as string | undefined,
    requestId: body.request_id as string | undefined,
    errors: Array.isArray(body.errors) ? (body.errors as string[]) : [],
    retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    error: (body.error ?? body.Message) as string | undefined,
  };
}

/** The Worker's bindings: vars and secrets set with wrangler. */
export interface Env {
  MAILER_URL: string;
  AWS_REGION: string;
  AWS_ACCESS_KEY_ID: string;
  AWS_SECRET_ACCESS_KEY: string;
}

// A Worker that sends the welcome mail for {"to": ..., "name": ...}.
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { to, name } = (await request.json()) as { to: string; name: string };
    const result = await sendMail(
      {
        functionUrl: env.MAILER_URL,
        region: env.AWS_REGION,
        accessKeyId: env.AWS_ACCESS_KEY_ID,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      },
      { template: "welcome", to, data: { name }, idempotency_key: `welcome-${to}`, tags: { service: "worker" } },
    );
    const status = result.kind === "ok" ? 200 : result.kind === "refused" ? 400 : 503;
    return Response.json(result, { status });
  },
};
