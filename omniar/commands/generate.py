"""`omniar generate image|audio|mesh|graph ...`."""

from omniar.commands.modality import register_family


def register(subparsers) -> None:
    register_family(subparsers, "generate", "generate samples with an embedded or saved model")
