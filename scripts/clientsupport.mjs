// Client-support report from caniemail.com's data (@jsx-email/doiuse-email)
// for the mails' inline CSS and HTML: the <style> blocks are left out (they
// are progressive enhancement, responsive and dark rules, which clients
// that drop them do without) and so are Outlook's conditional comments.
//
// Input on stdin: {"clients": ["gmail.*", ...], "mails": ["<html>...", ...]}
// Output on stdout: [[{"feature", "client", "level"}...] per mail], one
// entry per feature and client (level "unsupported" or "partial").
// Run by internal/receivers (ClientSupport.Report); exit 3 when the package
// is not installed (npm ci, or make deps).
let doIUseEmail;
try {
  ({ doIUseEmail } = await import('@jsx-email/doiuse-email'));
} catch (e) {
  process.stderr.write('@jsx-email/doiuse-email is not installed\n');
  process.exit(3);
}

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { clients, mails } = JSON.parse(input);

// doiuse-email's messages: "`feature` is not supported by `client`" and
// "`feature` is only partially supported by `client`".
const message = /^`(.+)` is (not|only partially) supported by `([^`]+)`$/;

const out = mails.map((html) => {
  const inline = html
    .replace(/<style\b[^>]*>[\s\S]*?<\/style>/gi, '')
    .replace(/<!--[\s\S]*?-->/g, '');
  const res = doIUseEmail(inline, { emailClients: clients });
  const seen = new Set();
  const issues = [];
  for (const [list, level] of [[res.errors || [], 'unsupported'], [res.warnings || [], 'partial']]) {
    for (const m of list) {
      const g = message.exec(m);
      if (!g) continue;
      const key = `${g[1]}|${g[3]}|${level}`;
      if (seen.has(key)) continue;
      seen.add(key);
      issues.push({ feature: g[1], client: g[3], level });
    }
  }
  return issues;
});
process.stdout.write(JSON.stringify(out));
