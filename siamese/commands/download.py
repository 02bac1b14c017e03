"""``siamese download``: fetch and verify the AT&T faces."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "download",
        help="download and verify the AT&T faces, or verify an existing copy",
        description="Download the AT&T Database of Faces, verify every file against packaged "
        "SHA-256 checksums, and unpack it into --data. When --data already contains files, "
        "nothing is downloaded or changed: the files are verified, and a failure names the "
        "missing or changed ones.",
    )
    parser.add_argument(
        "--data", default=None, help="folder to create (default: $SIAMESE_ATT_DIR, else data/att_faces)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from siamese.data import resolve_att_dir
    from siamese.download import download_att_faces

    folder = download_att_faces(resolve_att_dir(args.data))
    print(f"AT&T faces ready in {folder}")
    return 0
