// Run the example under Node 20+: the request JSON on stdin, the outcome
// JSON on stdout; exit 0 sent or already sent, 3 refused, 4 retry later, 1
// anything else (as `mailer send`). MAILER_URL, AWS_REGION,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) from the
// environment. Build with `npx tsc -p examples/worker`, then
// `node examples/worker/dist/node.js < request.json`.
import { sendMail, type MailRequest } from "./send.js";

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const req = JSON.parse(Buffer.concat(chunks).toString("utf8")) as MailRequest;

const env = process.env;
const result = await sendMail(
  {
    functionUrl: env.MAILER_URL ?? "",
    region: env.AWS_REGION ?? "",
    accessKeyId: env.AWS_ACCESS_KEY_ID ?? "",
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "",
    sessionToken: env.AWS_SESSION_TOKEN || undefined,
  },
  req,
);
console.log(JSON.stringify(result));
process.exitCode = { ok: 0, refused: 3, retry: 4, error: 1 }[result.kind];
