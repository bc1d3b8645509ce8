"""Independent MIME conformance check for the mailer's tests.

Reads each message file named on the command line with Python's own email
package (not the Go code under test) and prints one JSON report per file:
the problems found (line ends, line lengths, 8-bit data, parser defects,
header folding, parts without a Content-Transfer-Encoding) and the decoded
subject, recipient and text parts, so that the Go test can compare them with
what was rendered. Problems name line numbers, never the content.
"""
import email
import email.policy
import json
import sys


def check(path):
    raw = open(path, "rb").read()
    problems = []
    lines = raw.split(b"\r\n")
    if lines[-1] != b"":
        problems.append("the message does not end in CRLF")
    for n, line in enumerate(lines[:-1], 1):
        if b"\n" in line or b"\r" in line:
            problems.append("line %d has a bare CR or LF" % n)
        if len(line) > 998:
            problems.append("line %d is %d octets long" % (n, len(line)))
        if any(c > 127 or c == 0 for c in line):
            problems.append("line %d has 8-bit or NUL data" % n)
    # Header folding (RFC 5322 2.1.1, 2.2.3): a header line over 78
    # characters is a problem unless it is one word that cannot be folded.
    for n, line in enumerate(lines, 1):
        if line == b"":
            break
        if len(line) > 78:
            body = line.split(b":", 1)[1] if not line[:1].isspace() else line
            if b" " in body.strip() or b"\t" in body.strip():
                problems.append("header line %d is %d characters and could be folded" % (n, len(line)))

    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = []
    for part in msg.walk():
        for d in part.defects:
            problems.append("parser defect: %s" % type(d).__name__)
        if part.is_multipart():
            continue
        cte = part.get("Content-Transfer-Encoding")
        if cte is None:
            problems.append("a %s part has no Content-Transfer-Encoding" % part.get_content_type())
        parts.append({
            "type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "cte": str(cte or "").lower(),
            "content": part.get_content(),
        })
    if msg.get("MIME-Version") is None:
        problems.append("no MIME-Version")
    for h in ("From", "To", "Subject", "Date", "Message-ID"):
        if len(msg.get_all(h) or []) != 1:
            problems.append("%s appears %d times" % (h, len(msg.get_all(h) or [])))
    to = msg["To"]
    return {
        "file": path,
        "problems": problems,
        "subject": str(msg["Subject"]),
        "to": [a.addr_spec for a in to.addresses] if to is not None else [],
        "from": [a.addr_spec for a in msg["From"].addresses] if msg["From"] is not None else [],
        "parts": parts,
    }


print(json.dumps([check(p) for p in sys.argv[1:]]))
