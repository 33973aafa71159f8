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
_RINVEST_COMMIT = "94b128e7a07c0b19a4dbd74c6112eb01486d12b5"
_RINVEST_DIR = "inst/extdata/NDR"

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
    ),
    "gura": Example(
        title="Gura sub-watershed, Upper Tana, Kenya (InVEST freshwater sample data)",
        origin=f"github.com/jsta/rinvest, commit {_RINVEST_COMMIT} (2023-03-14), {_RINVEST_DIR}; "
        "originally the Natural Capital Project's InVEST sample data",
        licence="GPL (rinvest's DESCRIPTION); NatCap: an example only, not authoritative, the "
        "biophysical coefficients are not for real projects",
        base_url=f"https://raw.githubusercontent.com/jsta/rinvest/{_RINVEST_COMMIT}",
        files={
            "DEM_gura.tif": (
                f"{_RINVEST_DIR}/DEM_gura.tif",
                "56b7d6c053e721c3a6b99ba0827d09a14665572b3f69802f8223fb7796dc85d5",
                538794,
            ),
            "land_use_gura_float.tif": (
                f"{_RINVEST_DIR}/land_use_gura_float.tif",
                "e6ac2c8beffce5d8b668a259340d2d33d24142f2178a7d24a95f066eb09b4374",
                356988,
            ),
            "biophysical_table_gura.csv": (
                f"{_RINVEST_DIR}/biophysical_table_gura.csv",
                "b27b1549a41c4929f161e3b18962d6bc8627c10ed7ed27e504203c175a0f5f69",
                535,
            ),
            "watershed_gura.shp": (
                f"{_RINVEST_DIR}/watershed_gura.shp",
                "884a4deb95a84a6a8e6f50c381d699cd7599dc63e6582ee3cc9f4a8808435401",
                51084,
            ),
            "watershed_gura.shx": (
                f"{_RINVEST_DIR}/watershed_gura.shx",
                "4ebe4777c253a4d3008538897617564c9b3c01a40c990bcae29bcad51def9102",
                108,
            ),
            "watershed_gura.dbf": (
                f"{_RINVEST_DIR}/watershed_gura.dbf",
                "6fe8b628d4af627eccb76d2e1248dbe454cfcbcd0cd62688b26b4799d3a684c6",
                159,
            ),
            "watershed_gura.prj": (
                f"{_RINVEST_DIR}/watershed_gura.prj",
                "c3651c1d7ce1b4ede351a15849a6a402d66c756eb827e2778e5058758ddcb091",
                408,
            ),
            "subwatersheds_gura.shp": (
                f"{_RINVEST_DIR}/subwatersheds_gura.shp",
                "7a9cec01f1fae0285508eb179f7bd90c797b6689e4c89eeaee8b16a6f75ac9ef",
                105212,
            ),
            "subwatersheds_gura.shx": (
                f"{_RINVEST_DIR}/subwatersheds_gura.shx",
                "01e6adf49dbb2220c50c0feeb1839f2d3c8047c221cdb5bad9d56c30f2bd3319",
                140,
            ),
            "subwatersheds_gura.dbf": (
                f"{_RINVEST_DIR}/subwatersheds_gura.dbf",
                "0cb04b2e50362c4713713478db24574b7c8b24c266407466e9e490577ed4298f",
                240,
            ),
            "subwatersheds_gura.prj": (
                f"{_RINVEST_DIR}/subwatersheds_gura.prj",
                "8045149e2d4ddf937565ba9d57aec264986a68f129948f7f1b047bc248d1f919",
                408,
            ),
            "_README_InVEST_NDR_model_data.txt": (
                f"{_RINVEST_DIR}/_README_InVEST_NDR_model_data.txt",
                "818f155519d6f129624b2f5340af8f9c65880983d76f199973859cd9c2fc6e61",
                2768,
            ),
        },
    ),
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
