"""What the vector extractors (extract-hd-vectors.py, extract-eth-vectors.py) share: reading a
file of a fetched repository mirror, with the origin recorded beside what is taken from it."""
import pathlib, subprocess, sys


def mirror_root():
    """The mirrors' folder (OWNER+NAME/repo inside), from the command line or the default."""
    return pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror")


def fixtures(name):
    """crates/vault/tests/fixtures/NAME, created if missing."""
    out = pathlib.Path(__file__).resolve().parent.parent / "crates/vault/tests/fixtures" / name
    out.mkdir(parents=True, exist_ok=True)
    return out


def source(root, repo, path):
    """The text of `path` at the mirror's HEAD, and its origin (repository, commit, path)."""
    git = root / repo.replace("/", "+") / "repo"
    commit = subprocess.check_output(["git", "-C", str(git), "rev-parse", "HEAD"], text=True).strip()
    text = subprocess.check_output(["git", "-C", str(git), "show", f"HEAD:{path}"], text=True)
    return text, {"repository": f"https://github.com/{repo}", "commit": commit, "path": path}
