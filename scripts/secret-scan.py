#!/usr/bin/env python3
"""Secret scan over the whole git history (issue 18): every line ever added, in every commit
of every branch, is checked for private keys, cloud/chat/bot tokens, JWTs, credentials in URLs
and secret-looking assignments. Known demo and test values are allowed by
scripts/secret-scan.allow (one regular expression per line, matched against the finding).
Exit 1 with one line per finding (the value redacted) when anything else is found."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = [
    ("private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("AWS access key", re.compile(r"\bAKIA[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("Slack token", re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}")),
    ("Telegram bot token", re.compile(r"\b[0-9]{8,10}:[A-Za-z0-9_-]{35}\b")),
    ("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")),
    ("password in URL", re.compile(r"\b(?:postgres(?:ql)?|redis|amqp|mysql)://[^:/\s@]*:([^@\s/${}]{4,})@")),
    ("secret in a string literal", re.compile(
        r"(?i)(?:secret|password|passwd|token|api_?key)[a-z_]*[\"']?\s*[:=]\s*[\"']([^\"'\s$]{12,})[\"']")),
    ("secret in an env assignment", re.compile(
        r"^\s*(?:export\s+)?[A-Z_]*(?:SECRET|PASSWORD|TOKEN|API_KEY)[A-Z_]*=([^\s\"'$][^\s\"']{11,})\s*$")),
]


def allowlist():
    path = os.path.join(ROOT, "scripts", "secret-scan.allow")
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(re.compile(line))
    return out


def main():
    allowed = allowlist()
    log = subprocess.run(
        ["git", "-C", os.environ.get("SECRET_SCAN_REPO", ROOT), "log", "-p", "--all", "--no-color", "--no-ext-diff", "--format=commit %H"],
        check=True, capture_output=True,
    ).stdout.decode("utf-8", "replace")
    commit, path, findings, scanned = "?", "?", [], 0
    for line in log.splitlines():
        if line.startswith("commit "):
            commit = line[7:19]
            continue
        if line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else line[4:]
            continue
        if not line.startswith("+") or line.startswith("+++"):
            continue
        scanned += 1
        text = line[1:]
        for name, rule in RULES:
            for m in rule.finditer(text):
                hit = m.group(0)
                if any(a.search(hit) or a.search(f"{path}: {text}") for a in allowed):
                    continue
                shown = hit[:12] + "…" if len(hit) > 12 else hit
                if os.environ.get("SECRET_SCAN_SHOW") == "1":
                    shown = text.strip()[:160]
                findings.append(f"{commit} {path}: {name}: {shown}")
    for f in findings:
        print(f)
    if findings:
        print(f"secret scan: {len(findings)} finding(s) in {scanned} added lines "
              "(allow a known demo/test value in scripts/secret-scan.allow)", file=sys.stderr)
        return 1
    print(f"secret scan: no secrets in {scanned} added lines of the whole history")
    return 0


if __name__ == "__main__":
    sys.exit(main())
