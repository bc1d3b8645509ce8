# Verifies the first DKIM signature of each mail named on the command line with
# dkimpy (Debian's python3-dkim), an implementation independent of the
# mailer's go-msgauth. The DKIM key records come as JSON on stdin,
# {"selector._domainkey.domain": "v=DKIM1; k=rsa; p=..."}, served to dkimpy
# in place of DNS: nothing goes to the network. Prints one JSON line per
# mail: {"pass": bool, "domain": "...", "selector": "...", "reason": "..."}.
# Run by internal/receivers (DKIMPy.Verify); exit 3 when dkimpy is not
# installed.
import json
import sys

try:
    import dkim
except ImportError:
    sys.stderr.write("python3-dkim is not installed\n")
    sys.exit(3)

records = {k.lower().rstrip("."): v for k, v in json.load(sys.stdin).items()}


def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode("ascii", "replace")
    txt = records.get(name.lower().rstrip("."))
    return txt.encode("ascii") if txt is not None else None


for name in sys.argv[1:]:
    with open(name, "rb") as f:
        message = f.read()
    d = dkim.DKIM(message)
    out = {"pass": False, "domain": "", "selector": "", "reason": ""}
    try:
        out["pass"] = bool(d.verify(dnsfunc=dnsfunc))
        if not out["pass"]:
            out["reason"] = "signature does not verify"
    except dkim.DKIMException as e:
        out["reason"] = type(e).__name__ + ": " + str(e)[:200]
    out["domain"] = (d.domain or b"").decode("ascii", "replace")
    out["selector"] = (d.selector or b"").decode("ascii", "replace")
    print(json.dumps(out))
