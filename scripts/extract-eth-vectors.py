#!/usr/bin/env python3
"""Extracts the Ethereum test vectors from their official sources into fixtures
(crates/vault/tests/fixtures/eth/), recording each source's repository, commit and path.
The sources are the repositories' own files, never retyped:
  - ethereum/EIPs assets/eip-712/Example.js (EIP-712: encodeType, hashes, signature)
  - ethereum/EIPs EIPS/eip-155.md (the EIP-155 example transaction)
  - MetaMask/eth-sig-util src/sign-typed-data.test.ts + its snapshot (V4 signatures), and
    src/sign-eip7702-authorization.test.ts (EIP-7702 authorization hash and signature)
  - ethereum/tests TransactionTests (valid type 1 and 2 transactions: raw bytes, hash, sender,
    and the filler's fields) and KeyStoreTests/basic_tests.json (copied as it is)
  - ethereum/tests BlockchainTests stEIP1559/stEIP2930 (type 1 and 2 transactions in valid blocks)
  - ethereum/go-ethereum accounts/keystore/testdata/v3_test_vector.json (copied as it is), and
    two raw EIP-7702 transactions of its tracer test data
JavaScript object literals are evaluated by node (no network), not parsed by hand.
Usage: scripts/extract-eth-vectors.py MIRROR_ROOT   (git mirrors named OWNER+NAME/repo)
"""
import json, re, subprocess

import vector_sources
from vector_sources import fixtures, mirror_root

root = mirror_root()
out = fixtures("eth")


def source(repo, path):
    return vector_sources.source(root, repo, path)


def js_eval(program):
    """Runs a JavaScript program that prints one JSON value, and returns that value."""
    return json.loads(subprocess.check_output(["node", "-e", program], text=True))


def dump(name, value):
    with open(out / name, "w") as f:
        json.dump(value, f, indent=1, ensure_ascii=False)
        f.write("\n")


# EIP-712 Example.js: the typed data literal and every `expect(...).to.equal(...)`.
text, origin = source("ethereum/EIPs", "assets/eip-712/Example.js")
literal = re.search(r"const typedData = (\{.*?\n\});", text, re.S).group(1)
typed_data = js_eval(f"console.log(JSON.stringify({literal}))")
expects = {key: quoted or number for key, quoted, number in re.findall(
    r"^expect\((.*?)\)\.to\.equal\(\s*(?:'([^']*)'|(\d+)),?\s*\);", text, re.S | re.M)}
example = {
    "origin": origin,
    "typed_data": typed_data,
    "private_key_preimage": re.search(r"keccakFromString\('(\w+)', 256\);\nconst address", text).group(1),
    "encode_type_mail": expects["encodeType('Mail')"],
    "type_hash_mail": expects["ethUtil.bufferToHex(typeHash('Mail'))"],
    "encode_data_message": expects["ethUtil.bufferToHex(encodeData(typedData.primaryType, typedData.message))"],
    "struct_hash_message": expects["ethUtil.bufferToHex(structHash(typedData.primaryType, typedData.message))"],
    "domain_separator": expects["ethUtil.bufferToHex(structHash('EIP712Domain', typedData.domain))"],
    "signing_hash": expects["ethUtil.bufferToHex(signHash())"],
    "address": expects["ethUtil.bufferToHex(address)"],
    "v": int(expects["sig.v"]),
    "r": expects["ethUtil.bufferToHex(sig.r)"],
    "s": expects["ethUtil.bufferToHex(sig.s)"],
}
dump("eip712-example.json", example)

# eth-sig-util: `signTypedData` V4 tests, each `it(...)` block run by node with stubs that
# capture the data passed to signTypedData; the expected signature is the snapshot's.
text, origin = source("MetaMask/eth-sig-util", "src/sign-typed-data.test.ts")
snap, snap_origin = source("MetaMask/eth-sig-util", "src/__snapshots__/sign-typed-data.test.ts.snap")
key = re.search(r"const privateKey = Buffer\.from\(\s*'(\w+)'", text).group(1)
start = text.index("describe('signTypedData', function () {")
v4 = text.index("  describe('V4', function () {", start)
end = text.index("\n  });\n", v4)
section = text[v4:end]
names = [
    "should sign a minimal valid typed message",
    "should sign data with custom type",
    "should sign data with a recursive data type",
    "should sign data with a custom data type array",
    "should sign data with a custom type property set to null",
]
# (Not "a domain separator that uses all fields" nor "a typed message with data": their salt
# is a Node Buffer, not JSON.)
cases = []
for name in names:
    at = section.index(f"    it('{name}', function () {{")
    body_start = section.index("{", at + len(f"    it('{name}', function ("))
    body_end = section.index("\n    });\n", at)
    body = section[body_start + 1 : body_end]
    body = re.sub(r"\bas any\b", "", body)
    program = (
        "const captured = [];"
        "const SignTypedDataVersion = {V3: 'V3', V4: 'V4'};"
        "const privateKey = null;"
        "const signTypedData = (o) => { captured.push(o.data); return ''; };"
        "const expect = () => ({toMatchSnapshot() {}, toBe() {}});"
        f"(function () {{{body}}})();"
        "console.log(JSON.stringify(captured[0]));"
    )
    data = js_eval(program)
    expected = re.search(
        re.escape(f"exports[`signTypedData V4 {name} 1`] = `\"") + r"(0x[0-9a-f]+)", snap
    ).group(1)
    cases.append({"name": name, "data": data, "signature": expected})
dump("eth-sig-util-v4.json", {"origin": origin, "snapshot": snap_origin, "private_key": key, "cases": cases})

# eth-sig-util: the EIP-7702 authorization.
text, origin = source("MetaMask/eth-sig-util", "src/sign-eip7702-authorization.test.ts")
auth = js_eval("console.log(JSON.stringify(" + re.search(
    r"const TEST_AUTHORIZATION: EIP7702Authorization = (\[.*?\]);", text, re.S).group(1) + "))")
dump("eip7702-authorization.json", {
    "origin": origin,
    "private_key": re.search(r"TEST_PRIVATE_KEY = Buffer\.from\(\s*'(\w+)'", text).group(1),
    "chain_id": auth[0], "address": auth[1], "nonce": auth[2],
    "hash": re.search(r"EXPECTED_AUTHORIZATION_HASH = Buffer\.from\(\s*'(\w+)'", text).group(1),
    "signature": re.search(r"EXPECTED_SIGNATURE =\s*'(0x\w+)'", text).group(1),
})

# EIP-155's example.
text, origin = source("ethereum/EIPs", "EIPS/eip-155.md")
example = re.search(r"Consider a transaction with `nonce = (\d+)`, `gasprice = (\d+) \* 10\*\*(\d+)`, "
                    r"`startgas = (\d+)`, `to = (0x\w+)`, `value = 10\*\*(\d+)`", text)
nonce, price, price_exp, gas, to, value_exp = example.groups()
hexes = re.findall(r"^(0x[0-9a-f]+)$", text, re.M)
dump("eip155-example.json", {
    "origin": origin,
    "transaction": {"chainId": 1, "nonce": int(nonce), "gasPrice": str(int(price) * 10 ** int(price_exp)),
                    "gasLimit": int(gas), "to": to, "value": str(10 ** int(value_exp)), "data": "0x"},
    "private_key": re.search(r"private key `(0x\w+)`", text).group(1),
    "signing_data": hexes[0], "signing_hash": hexes[1], "signed": hexes[-1],
})

# ethereum/tests TransactionTests: the transactions valid at Cancun, with their fillers.
tests_git = root / "ethereum+tests" / "repo"
listing = subprocess.check_output(["git", "-C", str(tests_git), "ls-tree", "-r", "--name-only", "HEAD",
                                   "TransactionTests"], text=True)
txs = []
for path in listing.split():
    if "ttWrongRLP" in path or "10Mb" in path:  # invalid by design; 10 MB of data
        continue
    text, origin = source("ethereum/tests", path)
    for name, test in json.loads(text).items():
        result = test["result"].get("Cancun", {})
        if "hash" not in result:
            continue
        filler_path = test["_info"]["source"]
        filler, filler_origin = source("ethereum/tests", filler_path)
        try:  # some fillers are YAML: those cases keep only the raw bytes
            fields = json.loads(filler)[name]["transaction"]
        except ValueError:
            fields = None
        txs.append({"name": name, "origin": origin, "filler": filler_origin, "transaction": fields,
                    "txbytes": test["txbytes"], "hash": result["hash"], "sender": result["sender"]})
dump("transaction-tests.json", {"cases": txs})

# ethereum/tests BlockchainTests: type 1 and 2 transactions of valid blocks (stEIP2930,
# stEIP1559; the files the mirror holds), with their fields, signature, sender and the block's
# RLP, in which the signed transaction must appear byte for byte.
listing = subprocess.check_output(["git", "-C", str(tests_git), "ls-tree", "-r", "--name-only", "HEAD",
                                   "BlockchainTests/GeneralStateTests/stEIP1559",
                                   "BlockchainTests/GeneralStateTests/stEIP2930"], text=True)
in_blocks, per_type = [], {"0x01": 0, "0x02": 0}
for path in sorted(listing.split()):
    try:
        text, origin = source("ethereum/tests", path)
    except subprocess.CalledProcessError:  # large files the mirror lists but does not hold
        continue
    if len(text) > 200_000:
        continue
    for name, test in json.loads(text).items():
        for block in test.get("blocks", []):
            if "expectException" in block or "rlp" not in block:
                continue
            for tx in block.get("transactions", []):
                kind = tx.get("type")
                if kind not in per_type or per_type[kind] >= 12:
                    continue
                per_type[kind] += 1
                in_blocks.append({"name": name, "origin": origin, "transaction": tx, "block_rlp": block["rlp"]})
dump("blockchain-transactions.json", {"cases": in_blocks})

# go-ethereum's tracer test data: raw EIP-7702 (type 4) transactions from mainnet, with the
# accounts their prestate holds (the sender is one of them).
seven = []
for path in ["eth/tracers/internal/tracetest/testdata/prestate_tracer/7702_delegate.json",
             "eth/tracers/internal/tracetest/testdata/prestate_tracer_with_diff_mode/eip7702_deauth.json"]:
    text, origin = source("ethereum/go-ethereum", path)
    test = json.loads(text)
    result = test["result"]
    accounts = sorted(set(result) if "pre" not in result else set(result["pre"]) | set(result.get("post", {})))
    seven.append({"origin": origin, "raw": test["input"], "accounts": accounts})
dump("eip7702-transactions.json", {"cases": seven})

# Keystores: copied byte for byte, with their origin beside them.
origins = {}
for repo, path, name in [("ethereum/tests", "KeyStoreTests/basic_tests.json", "keystore-basic_tests.json"),
                         ("ethereum/go-ethereum", "accounts/keystore/testdata/v3_test_vector.json",
                          "keystore-v3_test_vector.json")]:
    text, origin = source(repo, path)
    (out / name).write_text(text)
    origins[name] = origin
dump("keystore-origins.json", origins)
print(f"wrote {len(cases)} V4 cases, {len(txs)} transactions, {len(in_blocks)} from blocks "
      f"({per_type}), {len(seven)} type 4 to {out}")
