"""The versions issue's write and read rows, this build beside the code before versions, in one
run. Run by `scripts/bench.sh writes`.

The bench file (crates/vault/benches/writes.rs) uses only APIs that existed before versions,
except its conditional-batch row: this script checks out BASE (the last commit before versions)
into target/before-versions (a git worktree), copies the bench file there with that row made a
plain batch, builds it with its own target directory (a few minutes the first time), then runs
the two builds alternately ROUNDS times each (default 2) and prints, per row, both ranges, the
ratio range (now / before, one ratio per pair of runs), the median of those ratios and the
issue's target. On a noisy host the median says more than the range. The `set_secrets` rows
come as the median of the 15 batches of a run and as their mean: a batch that makes a
checkpoint costs more than the others, and the median alone would not show it. The rows
`set_secrets in a row` are the same 15 batches back to back on a keyspace of their own,
without the single writes and reads between them (on sled, single writes between batches
make the next batch of the code before versions faster: they free its previous batch's replaced
pages, outside the timed batch; docs/PERF.md, session 23). The
conditional-batch rows come from this build alone (the old code has no preconditions): their
two columns are the plain batch and the same batch with a precondition on every key.
Environment: BASE (default 3a54b46), ROUNDS (default 2)."""
import json, os, re, statistics, subprocess, sys

BASE = os.environ.get("BASE", "3a54b46")
ROUNDS = int(os.environ.get("ROUNDS", "2"))
OLD_TREE = "target/before-versions"
OLD_TARGET = "target/before-versions-build"
TARGETS = {"vault set_secret (100 B)": "1.30", "vault get_secret (100 B)": "1.30",
           "vault set_secrets, 1,000 x 100 B": "1.20", "vault set_secrets, mean": "1.20",
           "vault set_secrets in a row": "1.20", "vault set_secrets in a row, mean": "1.20"}
LINE = re.compile(r"^(sled|redb)\s+(.+?)\s{2,}([\d.]+) (ms|us)(?:\s+conditional\s+([\d.]+) (ms|us))?")


def bench_binary(cwd, env=None):
    """Builds the writes bench in `cwd` and returns its executable."""
    out = subprocess.run(
        ["cargo", "bench", "-q", "-p", "vault", "--bench", "writes", "--no-run",
         "--message-format=json"],
        cwd=cwd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "writes" \
                and msg.get("executable"):
            return msg["executable"]
    raise SystemExit("the writes bench did not build")


def prepare_old():
    if not os.path.isdir(OLD_TREE):
        subprocess.run(["git", "worktree", "prune"], check=True)
        subprocess.run(["git", "worktree", "add", "--detach", "-f", OLD_TREE, BASE], check=True,
                       stdout=subprocess.DEVNULL)
    source = open("crates/vault/benches/writes.rs").read()
    start = source.index("    fn conditional_batch(round: usize) -> Batch {")
    end = source.index("\n    }\n", start) + len("\n    }\n")
    plain = ("    fn conditional_batch(round: usize) -> Batch {\n"
             "        let mut batch = Batch::new();\n"
             "        for i in 0..BATCH {\n"
             "            batch.set(format!(\"c{round}/{i:04}\").into_bytes(), vec![0xA5; 100]);\n"
             "        }\n"
             "        batch\n"
             "    }\n")
    with open(f"{OLD_TREE}/crates/vault/benches/writes.rs", "w") as f:
        f.write(source[:start] + plain + source[end:])
    manifest = f"{OLD_TREE}/crates/vault/Cargo.toml"
    text = open(manifest).read()
    if 'name = "writes"' not in text:
        with open(manifest, "a") as f:
            f.write('\n[[bench]]\nname = "writes"\nharness = false\n')
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.abspath(OLD_TARGET))
    return bench_binary(OLD_TREE, env)


def run(binary, extra=()):
    """{(backend, row): (seconds, conditional seconds or None)} of one run."""
    out = subprocess.run([binary, "--bench", *extra], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    rows = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            scale = lambda value, unit: float(value) * (1e-3 if unit == "ms" else 1e-6)
            cond = scale(m.group(5), m.group(6)) if m.group(5) else None
            rows[(m.group(1), m.group(2))] = (scale(m.group(3), m.group(4)), cond)
    return rows


def fmt(seconds):
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"


def span(values, f=fmt):
    lo, hi = min(values), max(values)
    return f(lo) if f(lo) == f(hi) else f"{f(lo)}-{f(hi)}"


def main():
    print(f"building the writes bench on {BASE} (before versions) and on this tree ...",
          file=sys.stderr)
    old_bin = prepare_old()
    new_bin = bench_binary(".")
    old_runs, new_runs = [], []
    for _ in range(ROUNDS):
        old_runs.append(run(old_bin, ["--no-conditional"]))
        new_runs.append(run(new_bin))
    print(f"\nwrites and reads, this build vs {BASE} (before versions), {ROUNDS} alternating "
          "runs each, medians of 60 rounds")
    print(f"{'backend':7} {'row':34} {'before':>18} {'now':>18} {'ratio':>10} {'median':>6} "
          f"{'target':>7}")
    for key in new_runs[0]:
        backend, row = key
        now = [r[key][0] for r in new_runs]
        if row in TARGETS and all(key in r for r in old_runs):
            before = [r[key][0] for r in old_runs]
            ratios = [n / b for n, b in zip(now, before)]
            print(f"{backend:7} {row:34} {span(before):>18} {span(now):>18} "
                  f"{span(ratios, lambda x: f'{x:.2f}'):>10} {statistics.median(ratios):>6.2f} "
                  f"{'<= ' + TARGETS[row]:>7}")
        conds = [r[key][1] for r in new_runs]
        if all(c is not None for c in conds):
            ratios = [c / n for c, n in zip(conds, now)]
            print(f"{backend:7} {'conditional / plain batch of 1,000':34} {span(now):>18} "
                  f"{span(conds):>18} {span(ratios, lambda x: f'{x:.2f}'):>10} "
                  f"{statistics.median(ratios):>6.2f} {'<= 1.10':>7}")


if __name__ == "__main__":
    main()
