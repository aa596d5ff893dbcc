#!/usr/bin/env python3
"""CycloneDX 1.5 SBOM (JSON) of the `gad` binary's dependency graph, from `cargo metadata` and
Cargo.lock checksums. Used by scripts/release.sh when `cargo cyclonedx` is not installed.
Usage: sbom.py OUTPUT.json"""
import datetime
import json
import os
import subprocess
import sys
import tomllib
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def purl(p):
    return f"pkg:cargo/{p['name']}@{p['version']}"


def main(out):
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform",
         subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True)
         .stdout.split("host: ")[1].split()[0]],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    with open(os.path.join(ROOT, "Cargo.lock"), "rb") as f:
        lock = tomllib.load(f)
    sums = {(p["name"], p["version"]): p.get("checksum") for p in lock.get("package", [])}
    pkgs = {p["id"]: p for p in meta["packages"]}
    members = set(meta["workspace_members"])
    root_id = next(i for i in members if pkgs[i]["name"] == "gad-cli")
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    # Only what the binary links: walk normal (non-dev, non-build) dependencies from gad-cli.
    seen, stack = set(), [root_id]
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        for d in nodes[i]["deps"]:
            if any(k.get("kind") is None for k in d["dep_kinds"]):
                stack.append(d["pkg"])
    components = []
    for i in sorted(seen - {root_id}, key=lambda x: (pkgs[x]["name"], pkgs[x]["version"])):
        p = pkgs[i]
        c = {"type": "library", "bom-ref": purl(p), "name": p["name"], "version": p["version"],
             "purl": purl(p), "scope": "required"}
        if p.get("license"):
            c["licenses"] = [{"expression": p["license"].replace("/", " OR ")}]
        if i in members:
            c["type"] = "application" if p["name"] == "gad-cli" else "library"
        elif sums.get((p["name"], p["version"])):
            c["hashes"] = [{"alg": "SHA-256", "content": sums[(p["name"], p["version"])]}]
        if p.get("repository"):
            c["externalReferences"] = [{"type": "vcs", "url": p["repository"]}]
        components.append(c)
    deps = []
    for i in sorted(seen):
        deps.append({"ref": purl(pkgs[i]), "dependsOn": sorted({
            purl(pkgs[d["pkg"]]) for d in nodes[i]["deps"]
            if d["pkg"] in seen and any(k.get("kind") is None for k in d["dep_kinds"])})})
    root = pkgs[root_id]
    bom = {
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "metadata": {
            "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "gad scripts/sbom.py"}]},
            "component": {"type": "application", "bom-ref": purl(root), "name": "gad",
                          "version": root["version"], "purl": purl(root),
                          "licenses": [{"expression": root.get("license") or "Apache-2.0"}]},
        },
        "components": components,
        "dependencies": deps,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(bom, f, indent=2)
        f.write("\n")
    print(f"SBOM: {out} ({len(components)} components, CycloneDX 1.5)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/release/gad.cdx.json")
