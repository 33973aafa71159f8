"""Download the real example data sets from their public origin, checked by SHA-256.

The repository ships no real data; ``make example-data`` (or
``python -m pipeline.example_data youwuzhen``) fetches the files that
``configs/example-local.yaml`` reads into ``data/examples/youwuzhen/`` (git-ignored).
Each file is downloaded to a temporary name, its SHA-256 compared with the value recorded
here, and only then renamed into place; a file already present with the right digest is
not downloaded again. ``--base-url`` points at a mirror or a local copy (``file://`` or
``http://``), e.g. for tests without network.

Standard library only (urllib, hashlib).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import InputDataError


@dataclass(frozen=True)
class Example:
    title: str
    origin: str  # where the files come from (repository and commit)
    licence: str
    base_url: str  # + "/" + path in the source repository
    files: dict[str, tuple[str, str, int]]  # local name -> (source path, sha256, bytes)


_SEIMS_COMMIT = "5b40269d6171a4774c9474706d1aeea79278c44b"

EXAMPLES = {
    "youwuzhen": Example(
        title="Youwuzhen (游屋圳) small watershed, Changting County, Fujian",
        origin=f"github.com/lreis2415/SEIMS, commit {_SEIMS_COMMIT} (2024-10-24), data/youwuzhen",
        licence="GPL-3.0 (the SEIMS repository's licence; no separate data licence)",
        base_url=f"https://raw.githubusercontent.com/lreis2415/SEIMS/{_SEIMS_COMMIT}",
        files={
            "ywzdem30m.tif": (
                "data/youwuzhen/data_prepare/spatial/ywzdem30m.tif",
                "a6a41f98506a9d425843aecdf876da5f178e0892e4da275151f02eb5f6bac494",
                66849,
            ),
            "ywzlanduse30m_upd.tif": (
                "data/youwuzhen/data_prepare/spatial/ywzlanduse30m_upd.tif",
                "6f71e7f020af678003e9fe705d70b4ae787d2f038a1bf099b1056777ebc10f5f",
                3214,
            ),
            "ywzsoil30m.tif": (
                "data/youwuzhen/data_prepare/spatial/ywzsoil30m.tif",
                "d903ce690174e492907f437b7859fc701a08c95b8cb8c2491d87d7a51212595e",
                2664,
            ),
            "soil_properties_lookup.csv": (
                "data/youwuzhen/data_prepare/lookup/soil_properties_lookup.csv",
                "f23ce66f51d36a81e7fb28d241eec7f8b42515ef456d31e20e5ca64654fa08e4",
                4750,
            ),
            "observed_Q.csv": (
                "data/youwuzhen/data_prepare/observed/observed_Q.csv",
                "35a5b72a9130c2767c1af21a61c8673c4559cc3c513cbb7f1ea0b570e8d7e2a5",
                10275,
            ),
            "observed_SED.csv": (
                "data/youwuzhen/data_prepare/observed/observed_SED.csv",
                "e96957863bf994fb165631d9fd877cc547ebb800bd28c579a3874f4e9a9bdf5b",
                11135,
            ),
            "pcp_daily.csv": (
                "data/youwuzhen/data_prepare/climate/pcp_daily.csv",
                "13c0e1681b854a713a23d1f760cc1f422b2cbd40388bbcc1b9ebecf637a2d4b4",
                50197,
            ),
        },
    )
}


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, target: Path, *, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as fh:
            while block := response.read(1 << 16):
                fh.write(block)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise InputDataError(
            f"cannot download {url}: {reason}; check the network (or pass --base-url "
            "with a mirror or a local copy of the files)"
        ) from None


def fetch_example(
    name: str,
    dest: str | os.PathLike,
    *,
    base_url: str | None = None,
    timeout: float = 60.0,
    log=print,
) -> Path:
    """Download example ``name`` into ``dest`` and verify every file's SHA-256.

    ``base_url`` replaces the public origin (the files' source paths are appended to it).
    Raises InputDataError naming the file when a download fails or its digest differs.
    """
    if name not in EXAMPLES:
        raise InputDataError(f"unknown example {name!r}; known: {sorted(EXAMPLES)}")
    example = EXAMPLES[name]
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    base = (base_url or example.base_url).rstrip("/")
    for local, (source_path, expected, size) in example.files.items():
        target = dest / local
        if target.is_file() and sha256(target) == expected:
            log(f"  {target}: present, SHA-256 verified")
            continue
        url = f"{base}/{source_path}"
        fd, tmp = tempfile.mkstemp(prefix=f".{local}.", suffix=".part", dir=dest)
        os.close(fd)
        tmp = Path(tmp)
        try:
            _download(url, tmp, timeout=timeout)
            got = sha256(tmp)
            if got != expected:
                raise InputDataError(
                    f"{url}: SHA-256 {got} ({tmp.stat().st_size} bytes) differs from the "
                    f"expected {expected} ({size} bytes); the file was not kept. The origin "
                    "changed or the download was corrupted: retry, or report it."
                )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        log(f"  {target}: downloaded, SHA-256 verified")
    (dest / "SOURCE.txt").write_text(
        f"{example.title}\nOrigin: {example.origin}\nLicence: {example.licence}\n"
        f"Downloaded by `python -m pipeline.example_data {name}` (SHA-256 verified).\n",
        encoding="utf-8",
    )
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.example_data", description=__doc__)
    parser.add_argument("name", choices=sorted(EXAMPLES))
    parser.add_argument("--dest", help="folder (default data/examples/NAME)")
    parser.add_argument("--base-url", help="mirror or local copy instead of the public origin")
    args = parser.parse_args(argv)
    dest = Path(args.dest or Path("data") / "examples" / args.name)
    print(f"{EXAMPLES[args.name].title} -> {dest}")
    try:
        fetch_example(args.name, dest, base_url=args.base_url)
    except InputDataError as exc:
        print(f"example data: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
