"""``fieldbench dataset list|coverage|split|import|export``: the dataset from a terminal."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.errors import FieldbenchError


class UsageError(FieldbenchError):
    """A command-line argument has the wrong form."""


def _tags(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(f"--tag {pair!r}: write it as key=value, e.g. temperature=hot")
        out[key.strip()] = value.strip()
    return out


def register(sub: Any) -> None:
    p = sub.add_parser("dataset", help="list, import, export, cover and split recordings")
    p.add_argument("--workspace", type=Path, default=Path("."), help="workspace folder")
    ds = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)

    ls = ds.add_parser("list", help="recordings with their label, tags and quality")
    ls.add_argument("--label")
    ls.add_argument("--tag", action="append", metavar="KEY=VALUE", help="filter (repeatable)")
    ls.set_defaults(run=_list)

    cov = ds.add_parser("coverage", help="recordings and seconds per tag combination and label")
    cov.add_argument("--axes", help="comma-separated tags (default: [dataset.coverage] axes)")
    cov.add_argument("--tag", action="append", metavar="KEY=VALUE", help="restrict (repeatable)")
    cov.set_defaults(run=_coverage)

    sp = ds.add_parser("split", help="train/val/test by session, stratified by tags; saved")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--name", help="name to save it under (default seed<N>)")
    sp.add_argument("--fractions", default="0.7,0.15,0.15", help="train,val,test shares")
    sp.add_argument(
        "--mirror-deployment", action="store_true", help="validation matches [dataset.deployment]"
    )
    sp.set_defaults(run=_split)

    im = ds.add_parser("import", help="import CSV, WAV, Edge Impulse JSON/CBOR or NanoEdge files")
    im.add_argument("files", nargs="+", type=Path)
    im.add_argument("--format", choices=_formats())
    im.add_argument("--label")
    im.add_argument("--tag", action="append", metavar="KEY=VALUE")
    im.add_argument("--rate", type=float, help="sample rate for files that carry none")
    im.add_argument("--units", help="physical units of the values (e.g. g)")
    im.add_argument("--scale", type=float, help="fixedPointScale (default: the workspace's)")
    im.add_argument("--channels", type=int, default=1, help="axes of a NanoEdge file")
    im.add_argument("--hmac-key", help="check Edge Impulse HS256 signatures with this key")
    im.set_defaults(run=_import)

    ex = ds.add_parser("export", help="export recordings to a folder in one format")
    ex.add_argument("out", type=Path, help="output folder")
    ex.add_argument("--format", choices=_formats(), required=True)
    ex.add_argument("--label")
    ex.add_argument("--tag", action="append", metavar="KEY=VALUE")
    ex.add_argument("--hmac-key", help="sign Edge Impulse files with HS256")
    ex.add_argument("--window", type=int, default=128, help="samples per NanoEdge line")
    ex.set_defaults(run=_export)


def _formats() -> tuple[str, ...]:
    return ("csv", "ei-csv", "wav", "ei-json", "ei-cbor", "nanoedge")


def _list(args: argparse.Namespace) -> int:
    from core.dataset import Dataset

    with Dataset.open(args.workspace) as ds:
        rows = ds.recordings(label=args.label, tags=_tags(args.tag))
        print(f"{'id':>6}  {'session':>7}  {'label':<12} {'state':<11} {'seconds':>8}  tags")
        for r in rows:
            tags = " ".join(f"{k}={v}" for k, v in r.tags.items())
            print(
                f"{r.id:>6}  {r.session:>7}  {r.label or '-':<12} {r.state:<11} "
                f"{r.duration_s:>8.1f}  {tags}"
            )
        print(f"{len(rows)} recording(s)")
    return 0


def _coverage(args: argparse.Namespace) -> int:
    from core.dataset import Dataset
    from core.dataset.coverage import coverage_matrix

    with Dataset.open(args.workspace) as ds:
        axes = [a.strip() for a in args.axes.split(",")] if args.axes else None
        print(coverage_matrix(ds, axes=axes, tags=_tags(args.tag)).table())
    return 0


def _split(args: argparse.Namespace) -> int:
    from core.dataset import Dataset
    from core.dataset.splits import make_split

    try:
        fractions = [float(f) for f in args.fractions.split(",")]
    except ValueError:
        raise UsageError(
            f"--fractions {args.fractions!r}: three numbers, e.g. 0.7,0.15,0.15"
        ) from None
    with Dataset.open(args.workspace) as ds:
        split = make_split(
            ds,
            fractions=fractions,
            seed=args.seed,
            name=args.name,
            mirror_deployment=args.mirror_deployment,
        )
        print(split.summary())
        print(f"saved as {split.name!r} in the catalog")
    return 0


def _import(args: argparse.Namespace) -> int:
    from core.dataset import Dataset
    from core.dataset.interop import import_file

    key = args.hmac_key.encode() if args.hmac_key else None
    with Dataset.open(args.workspace) as ds:
        session = ds.new_session()
        total = 0
        for f in args.files:
            ids = import_file(
                ds,
                f,
                fmt=args.format,
                label=args.label,
                tags=_tags(args.tag),
                session=session,
                sample_rate=args.rate,
                units=args.units,
                fixed_point_scale=args.scale,
                hmac_key=key,
                channels=args.channels,
            )
            total += len(ids)
            print(f"{f}: {len(ids)} recording(s) (ids {ids[0]}–{ids[-1]})")
        print(f"imported {total} recording(s) as session {session}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from core.dataset import Dataset
    from core.dataset.interop import export_recording

    suffix = {"wav": "wav", "ei-json": "json", "ei-cbor": "cbor"}.get(args.format, "csv")
    key = args.hmac_key.encode() if args.hmac_key else None
    with Dataset.open(args.workspace) as ds:
        rows = ds.recordings(label=args.label, tags=_tags(args.tag))
        args.out.mkdir(parents=True, exist_ok=True)
        for r in rows:
            # Edge Impulse's uploader takes the label from the name's first dotted part.
            name = f"{r.label or 'unlabelled'}.{r.id:06d}.{suffix}"
            export_recording(
                ds, r.id, args.out / name, fmt=args.format, hmac_key=key, window=args.window
            )
        print(f"exported {len(rows)} recording(s) to {args.out}")
    return 0
