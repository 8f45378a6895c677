#!/usr/bin/env python3
"""Extracts the HD-wallet test vectors from their official sources into JSON fixtures
(crates/vault/tests/fixtures/hd/), recording each source's repository, commit and path.
The sources are the repositories' own files, never retyped:
  - trezor/python-mnemonic vectors.json (BIP39, English, passphrase "TREZOR")
  - bitcoin/bips bip-0032.mediawiki (BIP32 test vectors 1-5)
  - satoshilabs/slips slip-0010.md (SLIP-0010 ed25519 and secp256k1 vectors)
Usage: scripts/extract-hd-vectors.py MIRROR_ROOT   (git mirrors named OWNER+NAME/repo)
"""
import json, re

import vector_sources
from vector_sources import fixtures, mirror_root

root = mirror_root()
out = fixtures("hd")


def source(repo, path):
    return vector_sources.source(root, repo, path)


def path_of(chain):
    return chain.replace("<sub>H</sub>", "'")

text, origin = source("trezor/python-mnemonic", "vectors.json")
english = json.loads(text)["english"]
json.dump({"origin": origin, "passphrase": "TREZOR",
           "vectors": [{"entropy": e, "mnemonic": m, "seed": s, "xprv": x} for e, m, s, x in english]},
          open(out / "bip39.json", "w"), indent=1, ensure_ascii=False)

text, origin = source("bitcoin/bips", "bip-0032.mediawiki")
vectors, invalid, current = [], [], None
section = None
for line in text.splitlines():
    m = re.match(r"===Test vector (\d)===", line)
    if m:
        section = int(m.group(1))
        continue
    if section is None:
        continue
    if section == 5:
        m = re.match(r"\* ((?:xpub|xprv)\w+) \((.*)\)", line)
        if m:
            invalid.append({"key": m.group(1), "reason": m.group(2)})
        continue
    m = re.match(r"Seed \(hex\): ([0-9a-f]+)", line)
    if m:
        current = {"seed": m.group(1), "chains": []}
        vectors.append(current)
    m = re.match(r"\* Chain (\S+)", line)
    if m:
        current["chains"].append({"path": path_of(m.group(1))})
    m = re.match(r"\*\* ext (pub|prv): (\w+)", line)
    if m:
        current["chains"][-1]["x" + m.group(1)] = m.group(2)
json.dump({"origin": origin, "vectors": vectors, "invalid": invalid},
          open(out / "bip32.json", "w"), indent=1)

text, origin = source("satoshilabs/slips", "slip-0010.md")
curves = {}
current = None
for line in text.splitlines():
    m = re.match(r"### Test vector (\d) for (\w+)", line)
    if m:
        current = {"seed": None, "chains": []}
        curves.setdefault(m.group(2), []).append(current)
        continue
    if current is None:
        continue
    m = re.match(r"Seed \(hex\): ([0-9a-f]+)", line)
    if m:
        current["seed"] = m.group(1)
    m = re.match(r"\* Chain (\S+)", line)
    if m:
        current["chains"].append({"path": path_of(m.group(1))})
    m = re.match(r"\s+\* (chain code|private|public): ([0-9a-f]+)", line)
    if m and current["chains"]:
        current["chains"][-1][m.group(1).replace(" ", "_")] = m.group(2)
json.dump({"origin": origin, "ed25519": curves["ed25519"], "secp256k1": curves["secp256k1"]},
          open(out / "slip10.json", "w"), indent=1)
print(f"wrote {out}/bip39.json ({len(english)}), bip32.json ({len(vectors)} + {len(invalid)} invalid), "
      f"slip10.json (ed25519 {len(curves['ed25519'])}, secp256k1 {len(curves['secp256k1'])})")
