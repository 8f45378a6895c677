"""vault encrypt/decrypt of a 1 GiB file beside rage (age) on the same file in the same run:
throughput ratio, user CPU time and peak RSS (from wait4's rusage). Run by `scripts/bench.sh cli`
(set BENCH_DIR to put the files on a RAM disk, e.g. /dev/shm).

Rows:
  -o      vault writes a 0600 temporary file, fsyncs it and renames it into place (a crash never
          leaves a partial output under the final name); rage writes the file in place and
          leaves it to the page cache. So these rows charge vault for the fsync.
  >null   both write to /dev/null: the work of the two tools alone.
Each figure is the best of RUNS runs, vault and rage interleaved: on these virtual machines the
kernel's time for reading and writing files varies two- to threefold from run to run, so the
user CPU time (the tools' own work) is printed beside the wall-clock throughput."""
import os, subprocess, tempfile, time

SIZE = 1 << 30
RUNS = int(os.environ.get("RUNS", "5"))
VAULT = os.path.abspath("target/release/vault")

def run(argv, stdout=None):
    """(wall seconds, user CPU seconds, peak RSS MiB) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout or subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{argv[0]} failed: {proc.stderr.read().decode()}")
    return elapsed, usage.ru_utime, usage.ru_maxrss / 1024

def to_null(argv):
    with open(os.devnull, "wb") as f:
        return run(argv, stdout=f)

def best(runs):
    return min(r[0] for r in runs), min(r[1] for r in runs), max(r[2] for r in runs)

with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as d:
    plain, sealed, back = (os.path.join(d, n) for n in ("plain", "sealed", "back"))
    with open(plain, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(SIZE >> 20):
            f.write(block)
    pw = os.path.join(d, "pw")
    open(pw, "w").write("benchmark password\n")
    base = [VAULT, "--store", os.path.join(d, "store"), "--password-file", pw]
    subprocess.run(base + ["keyspace", "create", "bench"], check=True, stdout=subprocess.DEVNULL)
    identity = os.path.join(d, "age.key")
    subprocess.run(["rage-keygen", "-o", identity], check=True, stderr=subprocess.DEVNULL)
    recipient = [l.split(": ")[1] for l in open(identity) if l.startswith("# public key")][0].strip()
    cases = [
        ("encrypt -o", lambda: run(base + ["encrypt", "bench", plain, "-o", sealed]),
         lambda: run(["rage", "-r", recipient, "-o", sealed + ".age", plain])),
        ("decrypt -o", lambda: run(base + ["decrypt", "bench", sealed, "-o", back]),
         lambda: run(["rage", "-d", "-i", identity, "-o", back + ".age", sealed + ".age"])),
        ("encrypt >null", lambda: to_null(base + ["encrypt", "bench", plain]),
         lambda: to_null(["rage", "-r", recipient, plain])),
        ("decrypt >null", lambda: to_null(base + ["decrypt", "bench", sealed]),
         lambda: to_null(["rage", "-d", "-i", identity, sealed + ".age"])),
    ]
    rows = []
    for label, ours, theirs in cases:
        results = [], []
        for _ in range(RUNS):
            results[0].append(ours())
            results[1].append(theirs())
        rows.append((label, best(results[0]), best(results[1])))
    assert open(back, "rb").read(1 << 20) == block
    # Peak memory must not grow with the input: the same encryption of a 64 MiB prefix.
    small = os.path.join(d, "small")
    # Copied in small pieces: a child's peak RSS starts at this process's RSS at fork time.
    with open(plain, "rb") as src, open(small, "wb") as dst:
        for _ in range(64):
            dst.write(src.read(1 << 20))
    rss_small = run(base + ["encrypt", "bench", small, "-o", small + ".sealed"])[2]
    empty = os.path.join(d, "empty")
    open(empty, "wb").close()
    fixed = best([to_null(base + ["encrypt", "bench", empty]) for _ in range(RUNS)])

    print(f"vault CLI vs rage, 1 GiB file, best of {RUNS} (ratio = vault MB/s / rage MB/s, target >= 1.10)")
    print(f"{'':13} {'vault MB/s':>10} {'rage MB/s':>10} {'ratio':>6} {'vault user s':>13} {'rage user s':>12}"
          f" {'vault peak RSS':>15} {'rage peak RSS':>14}")
    mb = SIZE / 1e6
    for label, (t_ours, u_ours, rss_ours), (t_theirs, u_theirs, rss_theirs) in rows:
        print(f"{label:13} {mb / t_ours:10.0f} {mb / t_theirs:10.0f} {t_theirs / t_ours:6.2f} {u_ours:13.2f}"
              f" {u_theirs:12.2f} {rss_ours:11.1f} MiB {rss_theirs:10.1f} MiB")
    print(f"vault fixed cost per command (encrypt of an empty file: start, open the store, Argon2id unlock "
          f"at 64 MiB): {fixed[0] * 1e3:.0f} ms wall, {fixed[1] * 1e3:.0f} ms user, peak RSS {fixed[2]:.1f} MiB")
    print(f"vault encrypt peak RSS: {rss_small:.1f} MiB for 64 MiB, {rows[0][1][2]:.1f} MiB for 1 GiB "
          "(streaming holds one 64 KiB chunk and a 1 MiB copy buffer; Argon2id's 64 MiB dominates)")
