"""``opsporing model``: make a signing key, sign a trained model, verify a model folder.

A sub-app of :mod:`opsporing.cli`, kept apart so the main command line only registers it.
The heavy imports (scikit-learn, skops) happen inside the verbs that need them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .errors import OpsporingError

model_app = typer.Typer(
    help="Sign and verify model files (Ed25519 signatures of the manifest).",
    no_args_is_help=True,
)


def _fail(exc: OpsporingError) -> None:
    message = "\\n".join(str(exc).splitlines())
    typer.echo(f"opsporing: error: {message}", err=True)
    raise typer.Exit(code=2)


@model_app.command()
def keygen(
    private_key: Annotated[
        Path, typer.Argument(help="Where to write the private key (PEM, mode 0600).")
    ],
    public_key: Annotated[
        Path | None,
        typer.Option("--public", help="Where to write the public key (default: *.pub beside)."),
    ] = None,
) -> None:
    """Make an Ed25519 key pair for signing models. Keep the private key off the repository."""
    from .model._keys import generate_keypair

    try:
        key = generate_keypair(private_key, public_key)
    except OpsporingError as exc:
        _fail(exc)
        return
    typer.echo(f"wrote {private_key} (private, mode 0600) and {key.source} (key id {key.key_id})")
    typer.echo(
        "Trust the public key with load_model(..., trusted_keys=[...]) or "
        "OPSPORING_TRUSTED_KEYS; never copy the private key into the repository."
    )


@model_app.command()
def sign(
    model_dir: Annotated[
        Path, typer.Argument(help="Folder holding the model file and manifest.json.")
    ],
    key: Annotated[Path, typer.Option("--key", help="The private key file (from keygen).")],
) -> None:
    """Sign a model folder's manifest (after checking the model file against it)."""
    from .model._artifact import SIGNATURE_NAME, sign_model

    try:
        key_id = sign_model(model_dir, key)
    except OpsporingError as exc:
        _fail(exc)
        return
    typer.echo(f"wrote {model_dir / SIGNATURE_NAME} (key id {key_id})")


@model_app.command()
def verify(
    model_dir: Annotated[
        Path, typer.Argument(help="Folder holding the model file, manifest and signature.")
    ],
    trusted_key: Annotated[
        list[Path] | None,
        typer.Option("--trusted-key", help="A public key to trust besides the package's."),
    ] = None,
) -> None:
    """Check a model folder exactly as load_model does, and load it."""
    from .model import load_model, read_manifest

    try:
        load_model(model_dir, trusted_keys=trusted_key or [])
        manifest = read_manifest(model_dir)
    except OpsporingError as exc:
        _fail(exc)
        return
    typer.echo(f"ok: {manifest['model_file']} sha256 {manifest['sha256']} (signature verified)")
